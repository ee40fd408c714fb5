"""Workbook: The LSTM, one step and through time (lessons 6 and 7).

Write lstm_step_forward, lstm_step_backward, lstm_forward, lstm_backward.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
import numpy as np

# sigmoid(x) = 1 / (1 + exp(-x)), computed without overflow; use it or write your own.
from scratchlstm.nn.functional import LSTMCache, LSTMStepCache, sigmoid


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
    H = Wh.shape[0]
    a = x @ Wx + h_prev @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])          # BUG: the order i, f, o, g of another course
    g = np.tanh(a[:, 3 * H:])
    c = f * c_prev + i * g
    tanh_c = np.tanh(c)
    return o * tanh_c, c, LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


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
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    do = dh * tanh_c
    # BUG: dc should also receive dh * o * (1 - tanh_c ** 2), the route through h
    df, di, dg, dc_prev = dc * c_prev, dc * g, dc * i, dc * f
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    return da @ Wx.T, da @ Wh.T, dc_prev, x.T @ da, h_prev.T @ da, da.sum(axis=0)


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
    # Compute: h, c = h0, c0; for t = 0..T-1: h, c, step = lstm_step_forward(x[t], h, c, Wx, Wh, b);
    #          keep h in hs[t] and the step cache in a list. Return hs, (h, c) and LSTMCache(steps).
    # Hint: Both h and c carry over from one step to the next.
    raise NotImplementedError("lstm_forward is not written yet")


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
    T = len(steps)
    dx = np.empty((T,) + steps[0].x.shape)
    dWx, dWh = np.zeros_like(steps[0].Wx), np.zeros_like(steps[0].Wh)
    db = np.zeros(steps[0].Wx.shape[1])
    dh_next = np.zeros_like(steps[0].h_prev) if dh_T is None else dh_T
    dc_next = np.zeros_like(steps[0].c_prev) if dc_T is None else dc_T
    for t in reversed(range(T)):
        dh = dhs[t] if dhs is not None else np.zeros_like(dh_next)   # BUG: + dh_next is missing
        dx[t], dh_next, dc_next, dWx_t, dWh_t, db_t = lstm_step_backward(dh, dc_next, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dh_next, dc_next, dWx, dWh, db
