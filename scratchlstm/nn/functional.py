r"""Forward/backward pairs: the mathematics of the library, as pure functions.

Every layer comes as a pair::

    y, cache = f_forward(x, params...)
    dx, dparams... = f_backward(dy, cache)

``cache`` holds what the backward pass needs from the forward pass. The functions work on NumPy
and CuPy arrays alike (they ask :func:`~scratchlstm.backend.get_array_module` for ``xp``), and
preserve the dtype they are given: float32 for training, float64 for gradient checks.

Shapes are *time-major*: token ids ``(T, B)``, activations ``(T, B, D)``.

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

:func:`lstm_step_forward` / :func:`lstm_step_backward` are the plain, one-step version to read
first. :func:`lstm_forward` / :func:`lstm_backward` run the same equations through time, arranged
for speed (one GEMM for the input projections of all steps, preallocated buffers, one GEMM per
weight gradient); a test checks that both give the same numbers.
"""
from __future__ import annotations

from ..backend import get_array_module, scatter_add


# ----------------------------------------------------------------------------------------------
# Elementwise helpers
# ----------------------------------------------------------------------------------------------
def sigmoid(x):
    """Numerically stable logistic function, ``1 / (1 + exp(-x))``.

    Written as ``0.5 * tanh(0.5 x) + 0.5``, an identity that never overflows (``exp(-x)``
    overflows for x < -709 in float64 and x < -88 in float32) and is faster than the exp form.
    """
    xp = get_array_module(x)
    return 0.5 * xp.tanh(0.5 * x) + 0.5


def softmax(logits, axis=-1):
    """Softmax along ``axis``, shifted by the maximum so ``exp`` never overflows."""
    xp = get_array_module(logits)
    shifted = logits - logits.max(axis=axis, keepdims=True)
    xp.exp(shifted, out=shifted)
    shifted /= shifted.sum(axis=axis, keepdims=True)
    return shifted


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
    cache : tuple for :func:`affine_backward`
    """
    if x.shape[-1] != W.shape[0]:
        raise ValueError(f"affine_forward: x has {x.shape[-1]} features on its last axis but "
                         f"W has shape {W.shape} (expected ({x.shape[-1]}, M))")
    if b.shape != (W.shape[1],):
        raise ValueError(f"affine_forward: b must have shape ({W.shape[1]},), got {b.shape}")
    lead = x.shape[:-1]
    # One GEMM over all leading positions at once: (N, D) @ (D, M).
    y = x.reshape(-1, x.shape[-1]) @ W
    y += b
    return y.reshape(*lead, W.shape[1]), (x, W)


def affine_backward(dy, cache):
    """Gradients of :func:`affine_forward`.

    Parameters
    ----------
    dy : (..., M) float, upstream gradient
    cache : from :func:`affine_forward`

    Returns
    -------
    dx : (..., D) float, ``dy W^T``
    dW : (D, M) float, ``x^T dy`` summed over all leading positions
    db : (M,) float, ``dy`` summed over all leading positions
    """
    x, W = cache
    dy2 = dy.reshape(-1, W.shape[1])
    x2 = x.reshape(-1, W.shape[0])
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
    cache : tuple for :func:`embedding_backward`
    """
    return W[ids], (ids, W.shape)


def embedding_backward(dout, cache):
    """Gradient of :func:`embedding_forward` with respect to ``W``.

    Row ``v`` of ``dW`` is the sum of ``dout`` over every position where token ``v`` occurred. A
    token that occurs twice must receive both contributions, which ``dW[ids] += dout`` would not
    do (see :func:`scratchlstm.backend.scatter_add`).

    Parameters
    ----------
    dout : (..., D) float
    cache : from :func:`embedding_forward`

    Returns
    -------
    dW : (V, D) float
    """
    ids, w_shape = cache
    xp = get_array_module(dout)
    dW = xp.zeros(w_shape, dtype=dout.dtype)
    scatter_add(dW, ids.reshape(-1), dout.reshape(-1, w_shape[1]))
    return dW


# ----------------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------------
def dropout_forward(x, p, rng, locked=False):
    """Inverted dropout: zero each unit with probability ``p`` and scale survivors by 1/(1-p).

    Scaling at training time keeps the expected activation unchanged, so evaluation simply skips
    dropout (no rescaling at test time).

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
    mask : the scaled mask (broadcastable to ``x``), the cache for :func:`dropout_backward`
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
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"softmax_cross_entropy: targets shape {targets.shape} must equal the "
                         f"leading shape of logits {logits.shape[:-1]}")
    xp = get_array_module(logits)
    V = logits.shape[-1]
    z = logits.reshape(-1, V)
    t = targets.reshape(-1)
    n = z.shape[0]
    rows = xp.arange(n)
    # Shift by the row maximum: exp never overflows and the result is unchanged.
    probs = z - z.max(axis=1, keepdims=True)
    picked = probs[rows, t]                  # shifted logit of the correct class
    xp.exp(probs, out=probs)
    sums = probs.sum(axis=1)
    loss = (xp.log(sums) - picked).mean()
    # dlogits = (softmax - onehot) / n; the division by the row sums and by n in one pass
    probs *= (1.0 / (n * sums))[:, None]
    probs[rows, t] -= 1.0 / n
    return loss, probs.reshape(logits.shape)


# ----------------------------------------------------------------------------------------------
# LSTM: one step, plain version
# ----------------------------------------------------------------------------------------------
def lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b):
    """One LSTM time step (the plain version, written for reading).

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
    cache : tuple for :func:`lstm_step_backward`
    """
    H = Wh.shape[0]
    a = x @ Wx + h_prev @ Wh + b               # (B, 4H) pre-activations of all four gates
    i = sigmoid(a[:, 0 * H:1 * H])             # input gate: how much new content to write
    f = sigmoid(a[:, 1 * H:2 * H])             # forget gate: how much old cell to keep
    g = get_array_module(a).tanh(a[:, 2 * H:3 * H])  # candidate content
    o = sigmoid(a[:, 3 * H:4 * H])             # output gate: how much of the cell to show
    c = f * c_prev + i * g
    tanh_c = get_array_module(c).tanh(c)
    h = o * tanh_c
    return h, c, (x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c)


def lstm_step_backward(dh, dc, cache):
    """Backward pass of one LSTM step.

    Parameters
    ----------
    dh : (B, H) float, gradient of the loss with respect to ``h`` (from above *and* from the future)
    dc : (B, H) float, gradient with respect to ``c`` arriving from the next time step
    cache : from :func:`lstm_step_forward`

    Returns
    -------
    dx : (B, D), dh_prev : (B, H), dc_prev : (B, H), dWx : (D, 4H), dWh : (H, 4H), db : (4H,)
    """
    xp = get_array_module(dh)
    x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh_c = cache
    # h = o * tanh(c): the gradient reaches o directly and c through tanh.
    do = dh * tanh_c
    dc = dc + dh * o * (1.0 - tanh_c ** 2)
    # c = f * c_prev + i * g
    df = dc * c_prev
    di = dc * g
    dg = dc * i
    dc_prev = dc * f
    # Through the nonlinearities: sigma' = s (1 - s), tanh' = 1 - t^2.
    da = xp.concatenate([di * i * (1.0 - i),
                         df * f * (1.0 - f),
                         dg * (1.0 - g ** 2),
                         do * o * (1.0 - o)], axis=1)     # (B, 4H)
    # a = x Wx + h_prev Wh + b
    dx = da @ Wx.T
    dh_prev = da @ Wh.T
    dWx = x.T @ da
    dWh = h_prev.T @ da
    db = da.sum(axis=0)
    return dx, dh_prev, dc_prev, dWx, dWh, db


# ----------------------------------------------------------------------------------------------
# LSTM through time: the fast version
# ----------------------------------------------------------------------------------------------
def _check_lstm_shapes(x, h0, c0, Wx, Wh, b):
    if x.ndim != 3:
        raise ValueError(f"lstm_forward: x must have shape (T, B, D), got {x.shape}")
    T, B, D = x.shape
    H = Wh.shape[0]
    expected = {"Wx": (D, 4 * H), "Wh": (H, 4 * H), "b": (4 * H,), "h0": (B, H), "c0": (B, H)}
    for name, array in (("Wx", Wx), ("Wh", Wh), ("b", b), ("h0", h0), ("c0", c0)):
        if array.shape != expected[name]:
            raise ValueError(f"lstm_forward: {name} must have shape {expected[name]} "
                             f"(T={T}, B={B}, D={D}, H={H}), got {array.shape}")
    _check_same_dtype("lstm_forward", (x, h0, c0, Wx, Wh, b))


def _work_array(workspace, name, shape, dtype, xp):
    """A new ``xp.empty(shape)``, or, when a ``workspace`` dict is given, the array kept there
    under ``name`` (made on first use). A layer that runs window after window passes its own
    workspace and so reuses its big buffers: fresh memory from the operating system costs a page
    fault per 4 KiB on first touch (~4 ms per 50 MB on a CPU), every window."""
    if workspace is None:
        return xp.empty(shape, dtype=dtype)
    array = workspace.get(name)
    if array is None or array.shape != shape or array.dtype != dtype or get_array_module(array) is not xp:
        array = workspace[name] = xp.empty(shape, dtype=dtype)
    return array


def _gate_scale_shift(H, dtype, xp):
    """Per-column constants of the fused gate matrix: 0.5 for the sigmoid gates i, f, o and 1 for
    the tanh gate g (``scale``); 0.5 and 0 (``shift``). Shape (4H,) each."""
    scale = xp.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H] = 1.0
    shift = xp.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H:3 * H] = 0.0
    return scale, shift


def lstm_forward(x, h0, c0, Wx, Wh, b, workspace=None):
    """Run an LSTM layer over a whole sequence.

    The same equations as :func:`lstm_step_forward`, arranged so that the per-step loop does only
    what must be sequential: the recurrent GEMM ``h_{t-1} Wh`` and the elementwise gate math,
    written in place into preallocated buffers. The input projection ``x_t Wx + b`` of all T steps
    is one GEMM, done before the loop.

    Parameters
    ----------
    x : (T, B, D) float
    h0, c0 : (B, H) float, initial state (zeros at the start of a text, or the final state of the
        previous window in truncated BPTT)
    Wx : (D, 4H), Wh : (H, 4H), b : (4H,) float, gates in the order i, f, g, o
    workspace : dict or None, where a layer keeps the cache arrays between calls to reuse their
        memory (the cache of the previous call is then overwritten); None: fresh arrays

    Returns
    -------
    hs : (T, B, H) float, hidden state at every step
    (h_T, c_T) : ((B, H), (B, H)), the final state
    cache : tuple for :func:`lstm_backward`
    """
    _check_lstm_shapes(x, h0, c0, Wx, Wh, b)
    xp = get_array_module(x)
    T, B, D = x.shape
    H = Wh.shape[0]
    # sigma(a) = 0.5 tanh(a / 2) + 0.5. Halving the i, f and o columns of the weights and bias once
    # (exact in floating point: a power of two) lets one tanh over all four gates do the work of
    # three sigmoids and a tanh; "scale" and "shift" then turn the i, f, o columns into sigmoids.
    scale, shift = _gate_scale_shift(H, x.dtype, xp)
    Wh_scaled = Wh * scale
    # gates[t] starts as x_t Wx + b for every t (one GEMM), then receives h_{t-1} Wh in the loop
    # and is overwritten by the gate activations: it becomes the cache of i, f, g, o.
    gates = _work_array(workspace, "gates", (T, B, 4 * H), x.dtype, xp)
    xp.matmul(x.reshape(T * B, D), Wx * scale, out=gates.reshape(T * B, 4 * H))
    gates += b * scale
    cs = _work_array(workspace, "cs", (T, B, H), x.dtype, xp)            # cell states c_1..c_T
    tanh_cs = _work_array(workspace, "tanh_cs", (T, B, H), x.dtype, xp)  # tanh(c_t), for backward
    hs = xp.empty((T, B, H), dtype=x.dtype)
    recurrent = xp.empty((B, 4 * H), dtype=x.dtype)
    ig = xp.empty((B, H), dtype=x.dtype)
    h, c = h0, c0
    for t in range(T):
        a = gates[t]
        xp.matmul(h, Wh_scaled, out=recurrent)
        a += recurrent
        xp.tanh(a, out=a)          # whole rows at once: contiguous memory, one call
        a *= scale                 # i, f, o: 0.5 tanh(a/2) + 0.5 = sigma(a); g: tanh(a)
        a += shift
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c_new = cs[t]
        xp.multiply(f, c, out=c_new)
        xp.multiply(i, g, out=ig)
        c_new += ig
        xp.tanh(c_new, out=tanh_cs[t])
        xp.multiply(o, tanh_cs[t], out=hs[t])
        h, c = hs[t], c_new
    cache = (x, h0, c0, Wx, Wh, gates, cs, tanh_cs, hs)
    return hs, (hs[-1].copy(), cs[-1].copy()), cache


def lstm_backward(dhs, cache, dh_T=None, dc_T=None, workspace=None):
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    dhs : (T, B, H) float or None, gradient of the loss with respect to every ``h_t`` coming from
        above (the next layer or the output layer); None means zeros
    cache : from :func:`lstm_forward`
    dh_T, dc_T : (B, H) float or None, gradient with respect to the final state (h_T, c_T), for
        when the final state feeds something that the loss depends on
    workspace : dict or None, reusable memory for the work arrays (see :func:`lstm_forward`)

    Returns
    -------
    dx : (T, B, D), dh0 : (B, H), dc0 : (B, H), dWx : (D, 4H), dWh : (H, 4H), db : (4H,)
    """
    x, h0, c0, Wx, Wh, gates, cs, tanh_cs, hs = cache
    xp = get_array_module(x)
    T, B, D = x.shape
    H = Wh.shape[0]
    if dhs is not None and dhs.shape != hs.shape:
        raise ValueError(f"lstm_backward: dhs must have shape {hs.shape}, got {dhs.shape}")
    dgates = _work_array(workspace, "dgates", (T, B, 4 * H), x.dtype, xp)  # dL/d(pre-activation)
    # dL/dh_{t-1} = da_t Wh^T is computed transposed, as Wh da_t^T, an (H, B) result: with a small
    # batch B, BLAS runs this orientation 10-20% faster, and it needs no transposed copy of Wh.
    # dh_next is the (B, H) view of that buffer.
    dh_next_T = xp.zeros((H, B), dtype=x.dtype)
    if dh_T is not None:
        dh_next_T[...] = dh_T.T
    dh_next = dh_next_T.T
    dc_next = xp.zeros((B, H), dtype=x.dtype) if dc_T is None else dc_T.copy()
    dh = xp.empty((B, H), dtype=x.dtype)
    dc = xp.empty((B, H), dtype=x.dtype)
    tmp = xp.empty((B, H), dtype=x.dtype)
    slope = xp.empty((B, 4 * H), dtype=x.dtype)
    slope_b = xp.empty((B, 4 * H), dtype=x.dtype)
    # The slopes of the gate nonlinearities, written in terms of their outputs s:
    # sigma' = s (1 - s) for i, f, o and tanh' = 1 - g^2 = (1 - g)(1 + g) for g, that is
    # (1 - s)(s + beta) with beta = 0 on the sigmoid columns and 1 on the g columns: one formula
    # over whole contiguous rows instead of three over strided column blocks.
    _, shift = _gate_scale_shift(H, x.dtype, xp)
    beta = 1.0 - 2.0 * shift
    for t in range(T - 1, -1, -1):
        a = gates[t]
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        da = dgates[t]
        di, df, dg, do = da[:, :H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:]
        tanh_c = tanh_cs[t]
        c_prev = cs[t - 1] if t > 0 else c0
        if dhs is not None:
            xp.add(dhs[t], dh_next, out=dh)
        else:
            dh[...] = dh_next
        # h = o * tanh(c)
        xp.multiply(dh, tanh_c, out=do)                      # dL/do
        xp.multiply(tanh_c, tanh_c, out=tmp)                 # dc = dc_next + dh*o*(1 - tanh^2 c)
        xp.subtract(1.0, tmp, out=tmp)
        tmp *= o
        tmp *= dh
        xp.add(dc_next, tmp, out=dc)
        # c = f * c_prev + i * g
        xp.multiply(dc, c_prev, out=df)
        xp.multiply(dc, g, out=di)
        xp.multiply(dc, i, out=dg)
        xp.multiply(dc, f, out=dc_next)                      # flows to c_{t-1}
        # through the nonlinearities: from dL/d(gate output) to dL/d(pre-activation a_t)
        xp.subtract(1.0, a, out=slope)
        xp.add(a, beta, out=slope_b)
        slope *= slope_b
        da *= slope
        # a_t = x_t Wx + h_{t-1} Wh + b  ->  the part that flows back in time
        xp.matmul(Wh, da.T, out=dh_next_T)
    # Weight gradients: one GEMM each over all T*B rows instead of T small ones.
    dg2 = dgates.reshape(T * B, 4 * H)
    dWx = x.reshape(T * B, D).T @ dg2
    # dWh = sum_t h_{t-1}^T da_t, where h_{t-1} is h0 for t = 1 and hs[t - 2] after that: two
    # products instead of copying h0 and hs[:-1] into one (T, B, H) array first.
    dWh = hs[:-1].reshape((T - 1) * B, H).T @ dg2[B:]
    dWh += h0.T @ dg2[:B]
    db = dg2.sum(axis=0)
    dx = (dg2 @ Wx.T).reshape(T, B, D)
    return dx, xp.ascontiguousarray(dh_next), dc_next, dWx, dWh, db


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
    cache : tuple for :func:`rnn_step_backward`
    """
    h = get_array_module(x).tanh(x @ Wx + h_prev @ Wh + b)
    return h, (x, h_prev, Wx, Wh, h)


def rnn_step_backward(dh, cache):
    """Backward pass of one RNN step: tanh' = 1 - h^2, then the affine maps.

    Returns
    -------
    dx : (B, D), dh_prev : (B, H), dWx : (D, H), dWh : (H, H), db : (H,)
    """
    x, h_prev, Wx, Wh, h = cache
    da = dh * (1.0 - h * h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, h_prev.T @ da, da.sum(axis=0)


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a sequence (a plain loop over :func:`rnn_step_forward`).

    Parameters
    ----------
    x : (T, B, D), h0 : (B, H) float

    Returns
    -------
    hs : (T, B, H), h_T : (B, H), cache
    """
    return _scan_forward(rnn_step_forward, x, h0, Wx, Wh, b)


def rnn_backward(dhs, cache, dh_T=None):
    """Backpropagation through time for :func:`rnn_forward`.

    Returns
    -------
    dx : (T, B, D), dh0 : (B, H), dWx, dWh, db
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
    h : (B, H), cache
    """
    xp = get_array_module(x)
    H = Wh.shape[0]
    ax = x @ Wx + bx
    ah = h_prev @ Wh + bh
    r = sigmoid(ax[:, :H] + ah[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
    n = xp.tanh(ax[:, 2 * H:] + r * ah[:, 2 * H:])
    h = (1.0 - z) * n + z * h_prev
    return h, (x, h_prev, Wx, Wh, r, z, n, ah[:, 2 * H:])


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
    """A GRU over a sequence (a plain loop over :func:`gru_step_forward`).

    Returns
    -------
    hs : (T, B, H), h_T : (B, H), cache
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
    """Run ``h_t, cache_t = step_forward(x_t, h_{t-1}, *params)`` for t = 1..T.

    Returns hs (T, B, H), h_T (B, H) and the list of step caches.
    """
    xp = get_array_module(x)
    hs = xp.empty((x.shape[0],) + h0.shape, dtype=x.dtype)
    caches = []
    h = h0
    for t in range(x.shape[0]):
        h, step_cache = step_forward(x[t], h, *params)
        hs[t] = h
        caches.append(step_cache)
    return hs, h, caches


def _scan_backward(step_backward, dhs, caches, dh_T=None):
    """Backpropagation through time over the step caches of :func:`_scan_forward`.

    At step t the hidden state receives the gradient from above (``dhs[t]``) plus the one flowing
    back from step t + 1; parameter gradients are summed over all steps.

    Returns dx (T, B, D), dh0 (B, H) and one summed gradient per parameter.
    """
    x0, h0 = caches[0][:2]
    xp = get_array_module(x0)
    dx = xp.empty((len(caches),) + x0.shape, dtype=x0.dtype)
    totals = None
    dh_next = xp.zeros_like(h0) if dh_T is None else dh_T
    for t in range(len(caches) - 1, -1, -1):
        dh = dh_next if dhs is None else dhs[t] + dh_next
        dx[t], dh_next, *grads = step_backward(dh, caches[t])
        if totals is None:
            totals = [g.copy() for g in grads]
        else:
            for total, g in zip(totals, grads):
                total += g
    return (dx, dh_next, *totals)
