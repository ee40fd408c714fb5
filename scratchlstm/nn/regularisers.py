r"""The regularisers of AWD-LSTM (Merity et al. 2017), as forward/backward pairs of the reading track.

* **Weight drop** (DropConnect on the recurrent weights): once per window, zero entries of
  :math:`W_h` with probability p and scale the rest by 1/(1-p). Every time step of the window
  uses the same dropped matrix, so the recurrence itself is regularised, while the fast LSTM
  kernels run unchanged on it.
* **Embedding dropout**: drop whole rows of the embedding matrix (whole words, at every position
  where they occur) with probability p, scaling the rest.
* **Activation regularisation (AR)**: :math:`\alpha\,\mathrm{mean}(h_t^2)` on the (dropped) output
  of the last layer keeps activations small.
* **Temporal activation regularisation (TAR)**: :math:`\beta\,\mathrm{mean}((h_t - h_{t-1})^2)` on
  its undropped output keeps them slow.

Locked (variational) dropout on the inputs, between layers and on the output is
:func:`~scratchlstm.nn.functional.dropout_forward` with ``locked=True``.
"""
from __future__ import annotations

from .functional import dropout_backward, dropout_forward


def weight_drop_forward(W, p: float, rng):
    r"""DropConnect: ``W * mask`` with ``mask = keep / (1 - p)``, one mask per window.

    Since the dropped matrix :math:`\tilde W = W \odot M` is used as the weight, the loss depends on
    :math:`W` only through :math:`\tilde W`, and :math:`\partial L / \partial W = M \odot
    \partial L / \partial \tilde W`: the gradient of the dropped weight, masked the same way.

    Parameters
    ----------
    W : (H, 4H) float, e.g. the recurrent weights of an LSTM layer
    p : float in [0, 1); rng : a Generator on W's device

    Returns
    -------
    W_dropped : (H, 4H) float; mask : the scaled mask, or None when p == 0
    """
    return dropout_forward(W, p, rng)


def weight_drop_backward(dW_dropped, mask):
    """Gradient of :func:`weight_drop_forward`: ``dW = mask * dW_dropped``."""
    return dropout_backward(dW_dropped, mask)


def embedding_dropout_forward(W, p: float, rng):
    r"""Drop whole rows (words) of an embedding matrix: ``W * mask`` with ``mask (V, 1)``.

    A dropped word is zero at *every* position of the window where it occurs, unlike dropout on
    the looked-up vectors, which would drop it at some positions and keep it at others.

    Parameters
    ----------
    W : (V, D) float; p : float in [0, 1); rng : a Generator on W's device

    Returns
    -------
    W_dropped : (V, D) float; mask : (V, 1) the scaled row mask, or None when p == 0
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"embedding dropout p must be in [0, 1), got {p}")
    if p == 0.0:
        return W, None
    keep = rng.random((W.shape[0], 1), dtype=W.dtype) >= p
    mask = keep.astype(W.dtype) / (1.0 - p)
    return W * mask, mask


def embedding_dropout_backward(dW_dropped, mask):
    """Gradient of :func:`embedding_dropout_forward`: the same row mask on the gradient."""
    return dropout_backward(dW_dropped, mask)


def activation_regularisation(hs, alpha: float):
    r"""AR: :math:`L = \alpha \cdot \mathrm{mean}(h^2)` over all of ``hs``, and
    :math:`\partial L / \partial h = 2 \alpha h / N`.

    Parameters
    ----------
    hs : (T, B, H) float, the (dropped) output of the last LSTM layer
    alpha : float >= 0

    Returns
    -------
    loss : 0-d float array; dhs : (T, B, H) float
    """
    N = hs.size
    return alpha * (hs * hs).sum() / N, (2.0 * alpha / N) * hs


def temporal_activation_regularisation(hs, beta: float):
    r"""TAR: :math:`L = \beta \cdot \mathrm{mean}_{t \ge 1}((h_t - h_{t-1})^2)`, the mean taken over
    the :math:`N = (T-1) B H` differences.

    Each :math:`h_t` appears in two differences, so with :math:`d_t = h_t - h_{t-1}`:
    :math:`\partial L / \partial h_t = \frac{2\beta}{N}(d_t - d_{t+1})` (with :math:`d_0 =
    d_T = 0`).

    Parameters
    ----------
    hs : (T, B, H) float, the undropped output of the last LSTM layer
    beta : float >= 0

    Returns
    -------
    loss : 0-d float array; dhs : (T, B, H) float
    """
    from ..backend import get_array_module  # noqa: PLC0415

    xp = get_array_module(hs)
    d = hs[1:] - hs[:-1]                                   # (T-1, B, H)
    N = max(d.size, 1)
    dhs = xp.zeros_like(hs)
    scale = 2.0 * beta / N
    dhs[1:] += scale * d
    dhs[:-1] -= scale * d
    return beta * (d * d).sum() / N, dhs
