r"""The reading track: every forward/backward pair of the library, written to be read.

Every layer comes as a pair::

    y, cache = f_forward(x, params...)
    dx, dparams... = f_backward(dy, cache)

``cache`` holds what the backward pass needs from the forward pass; each cache is a small named
tuple, so code reads ``cache.h_prev`` rather than ``cache[1]``. The functions work on NumPy and
CuPy arrays alike (they ask :func:`~scratchlstm.backend.get_array_module` for ``xp``) and
preserve the dtype they are given: float32 for training, float64 for gradient checks.

Shapes are *time-major*: token ids ``(T, B)``, activations ``(T, B, D)``.

This module is the truth of the library. It is plain on purpose: one equation per line, a loop
over time steps where the mathematics is a loop, no preallocated buffers. It is what the lessons
derive and what ``python -m scratchlstm workbook new DIR`` asks a student to rebuild. The layers
run the *speed track*, :mod:`scratchlstm.nn.fast`: the same signatures, arranged for speed, and
proved equal to these functions by the test suite.

The LSTM
--------
Gate order is i, f, g, o in one fused matrix. With ``x_t (B, D)``, ``h_{t-1} (B, H)``,
``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``:

.. math::

    a_t &= x_t W_x + h_{t-1} W_h + b                 \quad (B, 4H) \\
    i_t &= \sigma(a^{(i)}_t),\; f_t = \sigma(a^{(f)}_t),\; g_t = \tanh(a^{(g)}_t),\;
    o_t = \sigma(a^{(o)}_t) \\
    c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
    h_t &= o_t \odot \tanh(c_t)
"""
from __future__ import annotations

from typing import NamedTuple

from ..backend import get_array_module, is_device_array


# ----------------------------------------------------------------------------------------------
# Caches: what each forward pass keeps for its backward pass
# ----------------------------------------------------------------------------------------------
class AffineCache(NamedTuple):
    x: object          # (..., D) the input
    W: object          # (D, M) the weight


class EmbeddingCache(NamedTuple):
    ids: object        # (...) int, the looked-up token ids
    vocab_size: int    # V, the number of rows of the weight


class LSTMStepCache(NamedTuple):
    x: object          # (B, D) input of the step
    h_prev: object     # (B, H) previous hidden state
    c_prev: object     # (B, H) previous cell state
    Wx: object         # (D, 4H)
    Wh: object         # (H, 4H)
    i: object          # (B, H) input gate
    f: object          # (B, H) forget gate
    g: object          # (B, H) candidate content
    o: object          # (B, H) output gate
    tanh_c: object     # (B, H) tanh of the new cell state


class LSTMCache(NamedTuple):
    steps: list        # one LSTMStepCache per time step, t = 0 .. T-1


class RNNStepCache(NamedTuple):
    x: object          # (B, D)
    h_prev: object     # (B, H)
    Wx: object         # (D, H)
    Wh: object         # (H, H)
    h: object          # (B, H) the new hidden state, tanh(a)


class GRUStepCache(NamedTuple):
    x: object          # (B, D)
    h_prev: object     # (B, H)
    Wx: object         # (D, 3H)
    Wh: object         # (H, 3H)
    r: object          # (B, H) reset gate
    z: object          # (B, H) update gate
    n: object          # (B, H) candidate state
    ah_n: object       # (B, H) recurrent part of the candidate's pre-activation, h Wh_n + bh_n


class ScanCache(NamedTuple):
    steps: list        # one step cache per time step (RNN, GRU)


# ----------------------------------------------------------------------------------------------
# Elementwise helpers
# ----------------------------------------------------------------------------------------------
def sigmoid(x):
    r"""The logistic function :math:`\sigma(x) = 1 / (1 + e^{-x})`.

    Computed as :math:`\exp(-\log(1 + e^{-x}))`, with ``logaddexp(0, -x)`` for
    :math:`\log(1 + e^{-x})`: it never overflows (``exp(-x)`` alone overflows for x < -709 in
    float64) and keeps full relative precision for very negative x, where the answer is tiny.
    """
    xp = get_array_module(x)
    return xp.exp(-xp.logaddexp(0.0, -x))


def softmax(logits, axis=-1):
    """Softmax along ``axis``, shifted by the maximum so that ``exp`` never overflows.

    ``softmax(z) == softmax(z - c)`` for any constant ``c``; with ``c = max(z)`` the largest
    exponent is ``exp(0) = 1``.
    """
    xp = get_array_module(logits)
    e = xp.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(logits, axis=-1):
    """``log(softmax(logits))`` computed stably as ``z - max - log(sum(exp(z - max)))``."""
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


def _check_same_dtype(name, arrays):
    dtypes = {a.dtype for a in arrays}
    if len(dtypes) > 1:
        raise TypeError(f"{name}: all arrays must share one dtype, got {sorted(map(str, dtypes))}")


# ----------------------------------------------------------------------------------------------
# Affine (fully connected) layer
# ----------------------------------------------------------------------------------------------
def check_affine_shapes(x, W, b) -> None:
    """Raise a ValueError naming the argument when ``x``, ``W``, ``b`` do not fit together."""
    if x.shape[-1] != W.shape[0]:
        raise ValueError(f"affine_forward: x has {x.shape[-1]} features on its last axis but "
                         f"W has shape {W.shape} (expected ({x.shape[-1]}, M))")
    if b.shape != (W.shape[1],):
        raise ValueError(f"affine_forward: b must have shape ({W.shape[1]},), got {b.shape}")


def affine_forward(x, W, b):
    """``y = x W + b`` over the last axis.

    Parameters
    ----------
    x : (..., D) float
        Any number of leading axes, e.g. ``(N, D)`` or ``(T, B, D)``.
    W : (D, M) float
    b : (M,) float

    Returns
    -------
    y : (..., M) float
    cache : AffineCache(x, W)
    """
    check_affine_shapes(x, W, b)
    # All leading positions at once: (N, D) @ (D, M), one matrix product.
    y = x.reshape(-1, x.shape[-1]) @ W + b
    return y.reshape(*x.shape[:-1], W.shape[1]), AffineCache(x, W)


def affine_backward(dy, cache):
    """Gradients of :func:`affine_forward`.

    Parameters
    ----------
    dy : (..., M) float, upstream gradient
    cache : AffineCache from :func:`affine_forward`

    Returns
    -------
    dx : (..., D) float, ``dy W^T``
    dW : (D, M) float, ``x^T dy`` summed over all leading positions
    db : (M,) float, ``dy`` summed over all leading positions (the bias is added to every row)
    """
    x, W = cache
    dy2 = dy.reshape(-1, W.shape[1])            # (N, M)
    x2 = x.reshape(-1, W.shape[0])              # (N, D)
    dx = (dy2 @ W.T).reshape(x.shape)
    dW = x2.T @ dy2
    db = dy2.sum(axis=0)
    return dx, dW, db


# ----------------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------------
def embedding_forward(ids, W):
    """Look up one row of ``W`` per token id.

    Parameters
    ----------
    ids : (...) int array, values in ``[0, V)`` (validate on the host first: out-of-range ids
        wrap around silently on the GPU)
    W : (V, D) float

    Returns
    -------
    out : (..., D) float, ``out[..., :] = W[ids[...]]``
    cache : EmbeddingCache(ids, V)
    """
    return W[ids], EmbeddingCache(ids, W.shape[0])


def embedding_backward(dout, cache):
    """Gradient of :func:`embedding_forward` with respect to ``W``.

    Row ``v`` of ``dW`` is the sum of ``dout`` over every position where token ``v`` occurred. A
    token that occurs twice must receive both contributions. ``dW[ids] += dout`` would not do
    that: with a repeated index NumPy applies only one of the writes. ``xp.add.at`` is the
    unbuffered version that adds every one (a *scatter-add*).

    Parameters
    ----------
    dout : (..., D) float
    cache : EmbeddingCache from :func:`embedding_forward`

    Returns
    -------
    dW : (V, D) float
    """
    ids, vocab_size = cache
    xp = get_array_module(dout)
    D = dout.shape[-1]
    dW = xp.zeros((vocab_size, D), dtype=dout.dtype)
    xp.add.at(dW, ids.reshape(-1), dout.reshape(-1, D))
    return dW


# ----------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------
def dropout_forward(x, p, rng, locked=False):
    """Inverted dropout: zero each unit with probability ``p`` and scale survivors by 1/(1-p).

    Scaling at training time keeps the expected activation unchanged, so evaluation simply skips
    dropout (no rescaling at test time). The mask is ``rng.random(mask_shape) >= p``.

    Parameters
    ----------
    x : (T, B, D) float (or any shape when ``locked=False``)
    p : float in [0, 1), drop probability
    rng : a NumPy or CuPy ``Generator`` on the same device as ``x``
    locked : bool
        "Locked" (variational) dropout draws one mask per sequence and feature, shape ``(1, B, D)``,
        and reuses it at every time step (Gal & Ghahramani 2016; AWD-LSTM).

    Returns
    -------
    out : same shape as ``x``
    mask : the scaled mask (broadcastable to ``x``), or None when ``p == 0``; the cache for
        :func:`dropout_backward`
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout probability p must be in [0, 1), got {p}")
    if p == 0.0:
        return x, None
    mask_shape = (1,) + x.shape[1:] if locked else x.shape
    keep = rng.random(mask_shape, dtype=x.dtype) >= p
    mask = keep.astype(x.dtype) / (1.0 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    """Gradient of :func:`dropout_forward`: the same mask applied to ``dout``."""
    return dout if mask is None else dout * mask


# ----------------------------------------------------------------------------------------------
# Softmax cross-entropy
# ----------------------------------------------------------------------------------------------
def check_targets(logits, targets, name="softmax_cross_entropy") -> None:
    """Raise a clear error for targets of the wrong shape, dtype or range.

    The range is checked for host (NumPy) targets only: reading a device array's minimum would
    wait for the GPU at every step. Device targets come from
    :meth:`~scratchlstm.models.LSTMLanguageModel.to_device_ids`, which validates them on the
    host before they are moved.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"{name}: targets shape {targets.shape} must equal the leading shape of "
                         f"logits {logits.shape[:-1]}")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"{name}: targets must be integer class ids, got dtype {targets.dtype}")
    if targets.size and not is_device_array(targets):
        V = logits.shape[-1]
        low, high = int(targets.min()), int(targets.max())
        if low < 0 or high >= V:
            bad = low if low < 0 else high
            hint = (" (-100 is PyTorch's ignore_index for padding: drop those positions before "
                    "computing the loss)" if bad == -100 else "")
            raise ValueError(f"{name}: target {bad} is outside the classes [0, {V}){hint}")


def softmax_cross_entropy(logits, targets):
    r"""Mean cross-entropy of ``softmax(logits)`` against integer targets, and its gradient.

    .. math::  L = -\frac{1}{N}\sum_n \log \mathrm{softmax}(z_n)_{y_n}, \qquad
               \frac{\partial L}{\partial z_n} = \frac{\mathrm{softmax}(z_n) - \mathrm{onehot}(y_n)}{N}

    Parameters
    ----------
    logits : (..., V) float, e.g. ``(T, B, V)``
    targets : (...) int, same leading shape as ``logits``, values in ``[0, V)``

    Returns
    -------
    loss : 0-d float array (on the device of ``logits``; ``float(loss)`` reads it)
    dlogits : (..., V) float, gradient of the *mean* loss
    """
    check_targets(logits, targets)
    xp = get_array_module(logits)
    V = logits.shape[-1]
    z = logits.reshape(-1, V)                  # (N, V): one row per position
    y = targets.reshape(-1)                    # (N,)
    N = z.shape[0]
    rows = xp.arange(N)
    loss = -log_softmax(z)[rows, y].mean()
    dz = softmax(z)
    dz[rows, y] -= 1.0                          # softmax - onehot
    dz /= N                                     # the loss is a mean over N positions
    return loss, dz.reshape(logits.shape)


# ----------------------------------------------------------------------------------------------
# LSTM: one step
# ----------------------------------------------------------------------------------------------
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM time step.

    Parameters
    ----------
    x : (B, D) float, input at this step
    h_prev : (B, H) float, previous hidden state
    c_prev : (B, H) float, previous cell state
    Wx : (D, 4H) float, input weights, gate blocks in the order i, f, g, o
    Wh : (H, 4H) float, recurrent weights
    b : (4H,) float

    Returns
    -------
    h : (B, H) float, ``o * tanh(c)``
    c : (B, H) float, ``f * c_prev + i * g``
    cache : LSTMStepCache for :func:`lstm_step_backward`
    """
    xp = get_array_module(x)
    H = Wh.shape[0]
    a = x @ Wx + h_prev @ Wh + b               # (B, 4H) pre-activations of all four gates
    i = sigmoid(a[:, 0 * H:1 * H])             # input gate: how much new content to write
    f = sigmoid(a[:, 1 * H:2 * H])             # forget gate: how much old cell to keep
    g = xp.tanh(a[:, 2 * H:3 * H])             # candidate content
    o = sigmoid(a[:, 3 * H:4 * H])             # output gate: how much of the cell to show
    c = f * c_prev + i * g
    tanh_c = xp.tanh(c)
    h = o * tanh_c
    return h, c, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dh : (B, H) float, gradient of the loss with respect to ``h`` (from above *and* from the future)
    dc : (B, H) float, gradient with respect to ``c`` arriving from the next time step
    cache : LSTMStepCache from :func:`lstm_step_forward`

    Returns
    -------
    dx : (B, D), dh_prev : (B, H), dc_prev : (B, H), dWx : (D, 4H), dWh : (H, 4H), db : (4H,)
    """
    xp = get_array_module(dh)
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    # h = o * tanh(c): the gradient reaches o directly, and c through tanh.
    do = dh * tanh_c
    dc = dc + dh * o * (1.0 - tanh_c ** 2)     # c also feeds the loss through h
    # c = f * c_prev + i * g
    df = dc * c_prev
    di = dc * g
    dg = dc * i
    dc_prev = dc * f
    # Through the nonlinearities: sigma' = s (1 - s), tanh' = 1 - t^2.
    da = xp.concatenate([di * i * (1.0 - i),
                         df * f * (1.0 - f),
                         dg * (1.0 - g ** 2),
                         do * o * (1.0 - o)], axis=1)     # (B, 4H), blocks i, f, g, o
    # a = x Wx + h_prev Wh + b
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


# ----------------------------------------------------------------------------------------------
# LSTM through time: a loop over the step
# ----------------------------------------------------------------------------------------------
def check_lstm_shapes(x, h0, c0, Wx, Wh, b, name="lstm_forward") -> None:
    """Raise a ValueError that names the argument, the expected and the actual shape."""
    if x.ndim != 3:
        raise ValueError(f"{name}: x must have shape (T, B, D), got {x.shape}")
    T, B, D = x.shape
    H = Wh.shape[0]
    expected = {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,), "h0": (B, H), "c0": (B, H)}
    for arg, array in (("Wx", Wx), ("Wh", Wh), ("b", b), ("h0", h0), ("c0", c0)):
        if array.shape != expected[arg]:
            raise ValueError(f"{name}: {arg} must have shape {expected[arg]} "
                             f"(T={T}, B={B}, D={D}, H={H}), got {array.shape}")
    _check_same_dtype(name, (x, h0, c0, Wx, Wh, b))


def lstm_forward(x, h0, c0, Wx, Wh, b):
    """Run an LSTM layer over a whole sequence: :func:`lstm_step_forward` at t = 0, 1, ..., T-1.

    Parameters
    ----------
    x : (T, B, D) float
    h0, c0 : (B, H) float, initial state (zeros at the start of a text, or the final state of the
        previous window in truncated BPTT)
    Wx : (D, 4H), Wh : (H, 4H), b : (4H,) float, gates in the order i, f, g, o

    Returns
    -------
    hs : (T, B, H) float, hidden state at every step
    (h_T, c_T) : ((B, H), (B, H)), the final state
    cache : LSTMCache for :func:`lstm_backward`
    """
    check_lstm_shapes(x, h0, c0, Wx, Wh, b)
    xp = get_array_module(x)
    T = x.shape[0]
    hs = xp.empty((T,) + h0.shape, dtype=x.dtype)
    steps = []
    h, c = h0, c0
    for t in range(T):
        h, c, step = lstm_step_forward(x[t], h, c, Wx, Wh, b)
        hs[t] = h
        steps.append(step)
    return hs, (h, c), LSTMCache(steps)


def lstm_backward(dhs, cache, dh_T=None, dc_T=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Walks the steps backwards. At step t the hidden state ``h_t`` receives two gradients: the one
    from above (``dhs[t]``: the output layer or the next layer) and the one from the future
    (``dh_prev`` of step t+1). The cell state receives only the one from the future. Each weight
    is used at every step, so its gradient is the sum over all steps.

    Parameters
    ----------
    dhs : (T, B, H) float or None, gradient of the loss with respect to every ``h_t`` coming from
        above; None means zeros
    cache : LSTMCache from :func:`lstm_forward`
    dh_T, dc_T : (B, H) float or None, gradient with respect to the final state (h_T, c_T), for
        when the final state feeds something that the loss depends on; None means zeros

    Returns
    -------
    dx : (T, B, D), dh0 : (B, H), dc0 : (B, H), dWx : (D, 4H), dWh : (H, 4H), db : (4H,)
    """
    steps = cache.steps
    first = steps[0]
    xp = get_array_module(first.x)
    T = len(steps)
    if dhs is not None and dhs.shape != (T,) + first.h_prev.shape:
        raise ValueError(f"lstm_backward: dhs must have shape {(T,) + first.h_prev.shape}, "
                         f"got {dhs.shape}")
    dx = xp.empty((T,) + first.x.shape, dtype=first.x.dtype)
    dWx, dWh = xp.zeros_like(first.Wx), xp.zeros_like(first.Wh)
    db = xp.zeros(first.Wx.shape[1], dtype=first.Wx.dtype)
    dh_next = xp.zeros_like(first.h_prev) if dh_T is None else dh_T
    dc_next = xp.zeros_like(first.c_prev) if dc_T is None else dc_T
    for t in reversed(range(T)):
        dh = dh_next if dhs is None else dhs[t] + dh_next      # from above + from the future
        dx[t], dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(dh, dc_next, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dc_next, dWx, dWh, db


# ----------------------------------------------------------------------------------------------
# Vanilla RNN (Elman): the recurrence the LSTM improves on
# ----------------------------------------------------------------------------------------------
def rnn_step_forward(x, h_prev, Wx, Wh, b):
    """One step of a vanilla RNN: ``h = tanh(x Wx + h_prev Wh + b)``.

    Parameters
    ----------
    x : (B, D), h_prev : (B, H), Wx : (D, H), Wh : (H, H), b : (H,) float

    Returns
    -------
    h : (B, H) float
    cache : RNNStepCache for :func:`rnn_step_backward`
    """
    h = get_array_module(x).tanh(x @ Wx + h_prev @ Wh + b)
    return h, RNNStepCache(x, h_prev, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    """Backward pass of one RNN step: through tanh (tanh' = 1 - h^2), then the affine maps.

    Parameters
    ----------
    dh : (B, H) float, gradient with respect to the step's output ``h``
    cache : RNNStepCache from :func:`rnn_step_forward`

    Returns
    -------
    dx : (B, D), dh_prev : (B, H), dWx : (D, H), dWh : (H, H), db : (H,)
    """
    x, h_prev, Wx, Wh, h = cache
    da = dh * (1.0 - h * h)                    # (B, H)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a sequence: :func:`rnn_step_forward` at t = 0, 1, ..., T-1.

    Parameters
    ----------
    x : (T, B, D), h0 : (B, H), Wx : (D, H), Wh : (H, H), b : (H,) float

    Returns
    -------
    hs : (T, B, H), h_T : (B, H), cache : ScanCache of the step caches
    """
    return _scan_forward(rnn_step_forward, x, h0, Wx, Wh, b)


def rnn_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    dhs : (T, B, H) or None, gradient from above at every step; dh_T : (B, H) or None
    cache : ScanCache from :func:`rnn_forward`

    Returns
    -------
    dx : (T, B, D), dh0 : (B, H), dWx : (D, H), dWh : (H, H), db : (H,)
    """
    return _scan_backward(rnn_step_backward, dhs, cache, dh_T)


# ----------------------------------------------------------------------------------------------
# GRU (Cho et al. 2014), in PyTorch's formulation and gate order r, z, n
# ----------------------------------------------------------------------------------------------
def gru_step_forward(x, h_prev, Wx, Wh, bx, bh):
    r"""One GRU step.

    .. math::
        r &= \sigma(x W_x^{(r)} + b_x^{(r)} + h W_h^{(r)} + b_h^{(r)}), \quad
        z = \sigma(x W_x^{(z)} + b_x^{(z)} + h W_h^{(z)} + b_h^{(z)}) \\
        n &= \tanh(x W_x^{(n)} + b_x^{(n)} + r \odot (h W_h^{(n)} + b_h^{(n)})), \quad
        h' = (1 - z) \odot n + z \odot h

    Two biases, as in ``torch.nn.GRU``: the reset gate multiplies the recurrent part of ``n``
    *including* its bias, so ``bh`` cannot be folded into ``bx`` there.

    Parameters
    ----------
    x : (B, D), h_prev : (B, H), Wx : (D, 3H), Wh : (H, 3H), bx, bh : (3H,) float

    Returns
    -------
    h : (B, H), cache : GRUStepCache
    """
    xp = get_array_module(x)
    H = Wh.shape[0]
    ax = x @ Wx + bx
    ah = h_prev @ Wh + bh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = xp.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    h = (1.0 - z) * n + z * h_prev
    return h, GRUStepCache(x, h_prev, Wx, Wh, r, z, n, ah[:, 2 * H:])


def gru_step_backward(dh, cache):
    """Backward pass of one GRU step.

    Returns
    -------
    dx : (B, D), dh_prev : (B, H), dWx : (D, 3H), dWh : (H, 3H), dbx : (3H,), dbh : (3H,)
    """
    xp = get_array_module(dh)
    x, h_prev, Wx, Wh, r, z, n, ah_n = cache
    dn = dh * (1.0 - z)
    dz = dh * (h_prev - n)
    dh_prev = dh * z
    dan = dn * (1.0 - n * n)                 # through tanh
    dr = dan * ah_n
    dax = xp.concatenate([dr * r * (1.0 - r), dz * z * (1.0 - z), dan], axis=1)
    dah = xp.concatenate([dax[:, :2 * r.shape[1]], dan * r], axis=1)
    dx = dax @ Wx.T
    dh_prev = dh_prev + dah @ Wh.T
    return dx, dh_prev, x.T @ dax, h_prev.T @ dah, dax.sum(axis=0), dah.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """A GRU over a sequence (a loop over :func:`gru_step_forward`).

    Returns
    -------
    hs : (T, B, H), h_T : (B, H), cache : ScanCache
    """
    return _scan_forward(gru_step_forward, x, h0, Wx, Wh, bx, bh)


def gru_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for :func:`gru_forward`.

    Returns
    -------
    dx : (T, B, D), dh0 : (B, H), dWx, dWh, dbx, dbh
    """
    return _scan_backward(gru_step_backward, dhs, cache, dh_T)


# ----------------------------------------------------------------------------------------------
# Through time for cells with one state vector (RNN, GRU): loops over the step functions
# ----------------------------------------------------------------------------------------------
def _scan_forward(step_forward, x, h0, *params):
    """Run ``h_t, cache_t = step_forward(x_t, h_{t-1}, *params)`` for t = 0..T-1.

    Returns hs (T, B, H), h_T (B, H) and a ScanCache of the step caches.
    """
    xp = get_array_module(x)
    hs = xp.empty((x.shape[0],) + h0.shape, dtype=x.dtype)
    steps = []
    h = h0
    for t in range(x.shape[0]):
        h, step = step_forward(x[t], h, *params)
        hs[t] = h
        steps.append(step)
    return hs, h, ScanCache(steps)


def _scan_backward(step_backward, dhs, cache, dh_T=None):
    """Backpropagation through time over the step caches of :func:`_scan_forward`.

    At step t the hidden state receives the gradient from above (``dhs[t]``) plus the one flowing
    back from step t + 1; parameter gradients are summed over all steps.

    Returns dx (T, B, D), dh0 (B, H) and one summed gradient per parameter.
    """
    steps = cache.steps
    x0, h0 = steps[0].x, steps[0].h_prev
    xp = get_array_module(x0)
    dx = xp.empty((len(steps),) + x0.shape, dtype=x0.dtype)
    totals = None
    dh_next = xp.zeros_like(h0) if dh_T is None else dh_T
    for t in reversed(range(len(steps))):
        dh = dh_next if dhs is None else dhs[t] + dh_next
        dx[t], dh_next, *grads = step_backward(dh, steps[t])
        if totals is None:
            totals = [g.copy() for g in grads]
        else:
            for total, g in zip(totals, grads):
                total += g
    return (dx, dh_next, *totals)
