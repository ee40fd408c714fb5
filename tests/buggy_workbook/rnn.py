"""Workbook: A vanilla RNN, one step and through time (lesson 5).

Write rnn_step_forward, rnn_step_backward, rnn_forward, rnn_backward.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
import numpy as np

from scratchlstm.nn.functional import RNNStepCache, ScanCache


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
    # Compute: h = tanh(x Wx + h_prev Wh + b). Return h and RNNStepCache(x, h_prev, Wx, Wh, h).
    raise NotImplementedError("rnn_step_forward is not written yet")


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
    da = dh * (1 - h ** 2)
    dWh = h.T @ da               # BUG: h_t instead of h_{t-1}
    return da @ Wx.T, da @ Wh.T, x.T @ da, dWh, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a sequence: :func:`rnn_step_forward` at t = 0, 1, ..., T-1.

    Parameters
    ----------
    x : (T, B, D), h0 : (B, H), Wx : (D, H), Wh : (H, H), b : (H,) float

    Returns
    -------
    hs : (T, B, H), h_T : (B, H), cache : ScanCache of the step caches
    """
    # Compute: h = h0; for t = 0..T-1: h, step = rnn_step_forward(x[t], h, Wx, Wh, b); keep h in
    #          hs[t] and step in a list. Return hs, the last h, and ScanCache(steps).
    # Hint: Carry h from one step to the next: each step starts from the previous step's output.
    raise NotImplementedError("rnn_forward is not written yet")


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
    steps = cache.steps
    dx = np.empty((len(steps),) + steps[0].x.shape)
    dh_next = np.zeros_like(steps[0].h_prev) if dh_T is None else dh_T
    for t in reversed(range(len(steps))):
        dh = dh_next if dhs is None else dhs[t] + dh_next
        dx[t], dh_next, dWx, dWh, db = rnn_step_backward(dh, steps[t])   # BUG: = instead of +=
    return dx, dh_next, dWx, dWh, db
