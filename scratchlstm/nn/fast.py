"""The speed track: the functions the layers run, with the signatures of the reading track.

:mod:`scratchlstm.nn.functional` is the truth, written to be read. This module computes the same
numbers faster; the test suite proves the two equal in float64 (``tests/test_07_fast_track.py``).
Every trick carries a comment saying what it buys. Lesson 7 opens this file.

Functions that are already as fast as they get in their plain form (the affine backward, the
embedding lookup, dropout, the single steps, the RNN and GRU) are the reading track's own,
re-exported here, so that ``fast.X`` exists for every ``functional.X`` the layers call.

What is different here
----------------------
* :func:`lstm_forward` / :func:`lstm_backward`: one GEMM for the input projections of all T steps,
  one nonlinearity call over whole gate rows (:class:`GateForm`), preallocated buffers written
  in place, a *workspace* reused from window to window, the recurrent gradient GEMM transposed,
  one GEMM per weight gradient.
* :func:`embedding_backward`: the scatter-add over a flat view on the CPU.
* :func:`softmax_cross_entropy`: the gradient written into the softmax buffer in place, and on
  the CPU the rows worked through in cache-sized blocks.
* :func:`affine_forward`: the bias added in place.
* For evaluation and generation, where no backward pass follows: :func:`lstm_inference` (no
  history, no weight copies) and :func:`cross_entropy` (the loss without its gradient, in
  cache-sized row blocks).
"""
from __future__ import annotations

import contextlib
from typing import NamedTuple

from ..backend import get_array_module, np
from .functional import (AffineCache, EmbeddingCache, GRUStepCache, LSTMStepCache,  # noqa: F401
                         RNNStepCache, ScanCache, affine_backward, check_affine_shapes,
                         check_lstm_shapes, check_targets, dropout_backward, dropout_forward,
                         embedding_forward, gru_backward, gru_forward, gru_step_backward,
                         gru_step_forward, log_softmax, lstm_step_backward, lstm_step_forward,
                         rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward, sigmoid,
                         softmax)


class FastLSTMCache(NamedTuple):
    """What :func:`lstm_forward` keeps for :func:`lstm_backward`: whole-sequence arrays."""

    x: object          # (T, B, D) inputs
    h0: object         # (B, H) initial hidden state
    c0: object         # (B, H) initial cell state
    Wx: object         # (D, 4H)
    Wh: object         # (H, 4H)
    gates: object      # (T, B, 4H) gate activations i, f, g, o at every step
    cs: object         # (T, B, H) cell states c_1 .. c_T
    tanh_cs: object    # (T, B, H) tanh(c_t)
    hs: object         # (T, B, H) hidden states h_1 .. h_T


# ----------------------------------------------------------------------------------------------
# Embedding and loss
# ----------------------------------------------------------------------------------------------
def embedding_backward(dout, cache):
    """Gradient of :func:`embedding_forward` with respect to ``W`` (a scatter-add).

    Parameters
    ----------
    dout : (..., D) float
    cache : EmbeddingCache

    Returns
    -------
    dW : (V, D) float
    """
    ids, vocab_size = cache
    xp = get_array_module(dout)
    D = dout.shape[-1]
    dW = xp.zeros((vocab_size, D), dtype=dout.dtype)
    if xp is np:
        # NumPy's add.at over a flat 1-D view, one index per scalar, is 2-3x faster than over
        # the 2-D array (10k x 650 weight, 700 ids: 12.8 -> 4.8 ms).
        flat_index = (ids.reshape(-1, 1) * D + np.arange(D)).reshape(-1)
        np.add.at(dW.reshape(-1), flat_index, dout.reshape(-1))
    else:
        xp.add.at(dW, ids.reshape(-1), dout.reshape(-1, D))
    return dW


#: Numbers per row block of the loss on the CPU: 65,536 float32 are 256 KiB, so a block of logits
#: stays in a core's L2 cache while the loss makes its passes over it.
CPU_BLOCK_NUMBERS = 65_536


def _block_rows(n, V, xp):
    """Rows per block of :func:`_row_blocks` (at least 1)."""
    return max(1, n if xp is not np else min(n, CPU_BLOCK_NUMBERS // V))


def _row_blocks(n, V, xp):
    """``(start, stop)`` row ranges covering ``n`` rows of width ``V``.

    On the CPU, blocks of about :data:`CPU_BLOCK_NUMBERS` numbers: the loss makes four or five
    passes over the (N, V) logits (max, shift, exp, sum; then the gradient's scaling), and over a
    whole word-level array (28 MB at N = 700, V = 10k) every pass streams from main memory, which
    is also where NumPy's float32 ``exp`` is slowest. Block by block only the first pass does:
    1.2-1.3x faster losses at V = 3k and 10k. On a GPU one block: every pass is a kernel launch.
    """
    rows = _block_rows(n, V, xp)
    for start in range(0, n, rows):
        yield start, min(start + rows, n)


def _shifted_exp_rows(z, t, rows, out, picked, sums, xp):
    """The passes both losses make over one block of logits ``z`` (R, V) with targets ``t``
    (R,): ``out`` (R, V) receives exp(z - row max), ``picked`` (R,) the shifted logit of each
    row's target and ``sums`` (R,) the row sums of ``out``. ``rows`` is ``arange(R)``."""
    xp.subtract(z, z.max(axis=1, keepdims=True), out=out)
    picked[...] = out[rows, t]
    xp.exp(out, out=out)
    out.sum(axis=1, out=sums)


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy and its gradient, as :func:`functional.softmax_cross_entropy`.

    Parameters
    ----------
    logits : (..., V) float; targets : (...) int in [0, V)

    Returns
    -------
    loss : 0-d float array; dlogits : (..., V) float
    """
    check_targets(logits, targets)
    xp = get_array_module(logits)
    V = logits.shape[-1]
    z = logits.reshape(-1, V)
    t = targets.reshape(-1)
    n = z.shape[0]
    # One (N, V) buffer serves as shifted logits, then exponentials, then the gradient: for a
    # word-level model it is the largest array of the step, and each extra copy costs a pass.
    probs = xp.empty_like(z)
    picked = xp.empty(n, dtype=z.dtype)      # shifted logit of the correct class, per row
    sums = xp.empty(n, dtype=z.dtype)
    block_rows = xp.arange(_block_rows(n, V, xp))
    for start, stop in _row_blocks(n, V, xp):
        block, rows, t_block = probs[start:stop], block_rows[:stop - start], t[start:stop]
        _shifted_exp_rows(z[start:stop], t_block, rows, block, picked[start:stop], sums[start:stop], xp)
        # dlogits = (softmax - onehot) / n; the division by the row sums and by n in one pass
        block *= (1.0 / (n * sums[start:stop]))[:, None]
        block[rows, t_block] -= 1.0 / n
    loss = (xp.log(sums) - picked).mean()
    return loss, probs.reshape(logits.shape)


# ----------------------------------------------------------------------------------------------
# LSTM through time
# ----------------------------------------------------------------------------------------------
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


class GateForm(NamedTuple):
    """How the speed track turns the fused (B, 4H) row of pre-activations ``z`` (gates ordered
    i, f, g, o) into the gates: the row is first multiplied by ``pre_scale``, then
    :func:`activate_gates` runs the nonlinearity in place. Both scalings are exact in floating
    point (a sign and a power of two), so they can be folded into copies of the weights.

    * On the CPU, one ``exp`` (``exp=True``): ``pre_scale`` is -1 on i, f, o and -2 on g, and
      sigma(z) = 1 / (1 + exp(-z)), tanh(z) = 2 sigma(2z) - 1. NumPy's float32 ``exp`` is about
      twice as fast as its ``tanh`` here: the gate step is 1.2-1.5x faster than the tanh form
      (``python benchmarks/bench_gate_nonlinearity.py``), about 4% of a char training step.
    * On a GPU, one ``tanh`` (``exp=False``): ``pre_scale`` is 0.5 on i, f, o and 1 on g, and
      sigma(z) = 0.5 tanh(z / 2) + 0.5, so ``tanh``, ``* pre_scale`` again, ``+ shift``. There the
      arithmetic is free and every elementwise call is a kernel launch: three, against five.
    """

    exp: bool
    pre_scale: object    # (4H,)
    shift: object        # (4H,), the tanh form's 0.5 / 0 (None in the exp form)


def _g_columns(H, xp):
    """(4H,) bool: True on the columns of the tanh gate g (the third block of i, f, g, o)."""
    return xp.arange(4 * H) // H == 2


def gate_form(H, dtype, xp, exp=None) -> GateForm:
    """The :class:`GateForm` for ``xp``'s device: the exp form on NumPy, the tanh form on CuPy
    (``exp`` True or False chooses one, as the tests and ``bench_gate_nonlinearity.py`` do)."""
    g = _g_columns(H, xp)
    if exp is None:
        exp = xp is np
    if exp:
        return GateForm(True, xp.where(g, -2.0, -1.0).astype(dtype), None)
    return GateForm(False, xp.where(g, 1.0, 0.5).astype(dtype), xp.where(g, 0.0, 0.5).astype(dtype))


def activate_gates(a, H, form, xp):
    """The four gates in place: ``a`` (B, 4H) holds ``z * form.pre_scale`` and leaves holding
    sigma(z) on the i, f, o columns and tanh(z) on the g columns."""
    if form.exp:
        # exp(-z) overflows to inf for a very negative z, and 1 / (1 + inf) = 0 is the right
        # limit: the warning is silenced (see _overflow_allowed).
        xp.exp(a, out=a)
        a += 1.0
        xp.reciprocal(a, out=a)
        g = a[:, 2 * H:3 * H]
        g *= 2.0
        g -= 1.0
    else:
        xp.tanh(a, out=a)
        a *= form.pre_scale        # the same 0.5 / 1: 0.5 tanh(z / 2) + 0.5 on i, f, o
        a += form.shift


def _overflow_allowed(xp):
    """A context in which NumPy's ``exp`` may overflow to inf without a warning (see
    :func:`activate_gates`); on CuPy, which does not warn, a no-op."""
    return np.errstate(over="ignore") if xp is np else contextlib.nullcontext()


def lstm_forward(x, h0, c0, Wx, Wh, b, workspace=None):
    """Run an LSTM layer over a whole sequence (the numbers of :func:`functional.lstm_forward`).

    The per-step loop does only what must be sequential: the recurrent GEMM ``h_{t-1} Wh`` and
    the elementwise gate math, written in place into preallocated buffers. The input projection
    ``x_t Wx + b`` of all T steps is one GEMM, done before the loop.

    Parameters
    ----------
    x : (T, B, D) float
    h0, c0 : (B, H) float, initial state
    Wx : (D, 4H), Wh : (H, 4H), b : (4H,) float, gates in the order i, f, g, o
    workspace : dict or None, where a layer keeps the cache arrays between calls to reuse their
        memory (the cache of the previous call is then overwritten); None: fresh arrays

    Returns
    -------
    hs : (T, B, H) float, hidden state at every step
    (h_T, c_T) : ((B, H), (B, H)), the final state
    cache : FastLSTMCache for :func:`lstm_backward`
    """
    check_lstm_shapes(x, h0, c0, Wx, Wh, b)
    xp = get_array_module(x)
    T, B, D = x.shape
    H = Wh.shape[0]
    # One nonlinearity call makes all four gates (see GateForm) once the pre-activations are
    # scaled per column. Scaling copies of the weights and bias once (exact in floating point)
    # does that inside the GEMMs, at no cost per step.
    form = gate_form(H, x.dtype, xp)
    Wh_scaled = Wh * form.pre_scale
    # gates[t] starts as (x_t Wx + b) * pre_scale for every t (one GEMM), receives the scaled
    # h_{t-1} Wh in the loop and is overwritten by the gate activations: it becomes the cache of
    # i, f, g, o.
    gates = _work_array(workspace, "gates", (T, B, 4 * H), x.dtype, xp)
    xp.matmul(x.reshape(T * B, D), Wx * form.pre_scale, out=gates.reshape(T * B, 4 * H))
    gates += b * form.pre_scale
    cs = _work_array(workspace, "cs", (T, B, H), x.dtype, xp)            # cell states c_1..c_T
    tanh_cs = _work_array(workspace, "tanh_cs", (T, B, H), x.dtype, xp)  # tanh(c_t), for backward
    hs = xp.empty((T, B, H), dtype=x.dtype)
    recurrent = xp.empty((B, 4 * H), dtype=x.dtype)
    ig = xp.empty((B, H), dtype=x.dtype)
    h, c = h0, c0
    with _overflow_allowed(xp):
        for t in range(T):
            a = gates[t]
            xp.matmul(h, Wh_scaled, out=recurrent)
            a += recurrent
            activate_gates(a, H, form, xp)     # whole rows at once: contiguous memory
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            c_new = cs[t]
            xp.multiply(f, c, out=c_new)
            xp.multiply(i, g, out=ig)
            c_new += ig
            xp.tanh(c_new, out=tanh_cs[t])
            xp.multiply(o, tanh_cs[t], out=hs[t])
            h, c = hs[t], c_new
    cache = FastLSTMCache(x, h0, c0, Wx, Wh, gates, cs, tanh_cs, hs)
    return hs, (hs[-1].copy(), cs[-1].copy()), cache


def lstm_inference(x, h0, c0, Wx, Wh, b, workspace=None):
    """The forward pass of :func:`lstm_forward` when no backward pass follows (evaluation and
    generation): the same ``hs`` and final state, bit for bit, and nothing else.

    What it leaves out, and what that buys:

    * the cache: only the current cell state is kept, not the cell states, tanh(c) and gates of
      every step (two fewer (T, B, H) arrays written, and no (T, B, 4H) history held);
    * the scaled copies of ``Wx`` and ``Wh`` that :func:`lstm_forward` makes for its
      :class:`GateForm`: here the pre-activations are scaled instead, one pass over a (B, 4H) row
      per step. Copying the weights costs about 1 ms per call for a 650-unit layer, which for a
      short sequence is a large part of the call. The scalings are exact (a sign and a power of
      two), so the results are identical.

    Parameters
    ----------
    x : (T, B, D) float
    h0, c0 : (B, H) float, initial state (not modified)
    Wx : (D, 4H), Wh : (H, 4H), b : (4H,) float, gates in the order i, f, g, o
    workspace : dict or None, where a layer keeps the (T, B, 4H) pre-activation buffer between calls

    Returns
    -------
    hs : (T, B, H) float, hidden state at every step
    (h_T, c_T) : ((B, H), (B, H)), the final state
    """
    check_lstm_shapes(x, h0, c0, Wx, Wh, b, name="lstm_inference")
    xp = get_array_module(x)
    T, B, D = x.shape
    H = Wh.shape[0]
    form = gate_form(H, x.dtype, xp)
    pre = _work_array(workspace, "inference_gates", (T, B, 4 * H), x.dtype, xp)
    xp.matmul(x.reshape(T * B, D), Wx, out=pre.reshape(T * B, 4 * H))   # x_t Wx for all t at once
    pre += b
    hs = xp.empty((T, B, H), dtype=x.dtype)
    recurrent = xp.empty((B, 4 * H), dtype=x.dtype)
    c_now = xp.empty((B, H), dtype=x.dtype)     # the one cell state kept, updated in place
    ig = xp.empty((B, H), dtype=x.dtype)
    tanh_c = xp.empty((B, H), dtype=x.dtype)
    h, c = h0, c0
    with _overflow_allowed(xp):
        for t in range(T):
            a = pre[t]
            xp.matmul(h, Wh, out=recurrent)
            a += recurrent
            a *= form.pre_scale
            activate_gates(a, H, form, xp)
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            xp.multiply(f, c, out=c_now)
            xp.multiply(i, g, out=ig)
            c_now += ig
            xp.tanh(c_now, out=tanh_c)
            xp.multiply(o, tanh_c, out=hs[t])
            h, c = hs[t], c_now
    return hs, (hs[-1].copy(), c_now)


def cross_entropy(logits, targets):
    """Mean cross-entropy alone, without its gradient: what evaluation needs.

    The loss of :func:`softmax_cross_entropy` with two passes fewer over the (N, V) logits (the
    division into probabilities and the one-hot subtraction), the biggest array of a
    word-level evaluation. The shifted exponentials live in one block's buffer (see
    :func:`_row_blocks`), never in an (N, V) array.

    Parameters
    ----------
    logits : (..., V) float; targets : (...) int in [0, V)

    Returns
    -------
    loss : 0-d float array
    """
    check_targets(logits, targets)
    xp = get_array_module(logits)
    V = logits.shape[-1]
    z = logits.reshape(-1, V)
    t = targets.reshape(-1)
    n = z.shape[0]
    picked = xp.empty(n, dtype=z.dtype)      # shifted logit of the correct class, per row
    sums = xp.empty(n, dtype=z.dtype)
    shifted = xp.empty((_block_rows(n, V, xp), V), dtype=z.dtype)  # one block, reused (_row_blocks)
    block_rows = xp.arange(shifted.shape[0])
    for start, stop in _row_blocks(n, V, xp):
        _shifted_exp_rows(z[start:stop], t[start:stop], block_rows[:stop - start],
                          shifted[:stop - start], picked[start:stop], sums[start:stop], xp)
    return (xp.log(sums) - picked).mean()


def affine_forward(x, W, b):
    """``y = x W + b``, as :func:`functional.affine_forward`, with the bias added in place: for
    a decoder that is one (N, V) array and one pass fewer than ``x @ W + b``.

    Parameters
    ----------
    x : (..., D) float; W : (D, M) float; b : (M,) float

    Returns
    -------
    y : (..., M) float; cache : AffineCache(x, W)
    """
    check_affine_shapes(x, W, b)
    y = x.reshape(-1, x.shape[-1]) @ W
    y += b
    return y.reshape(*x.shape[:-1], W.shape[1]), AffineCache(x, W)


def lstm_backward(dhs, cache, dh_T=None, dc_T=None, workspace=None):
    """Backpropagation through time for :func:`lstm_forward` (the numbers of
    :func:`functional.lstm_backward`).

    Parameters
    ----------
    dhs : (T, B, H) float or None, gradient of the loss with respect to every ``h_t`` coming from
        above; None means zeros
    cache : FastLSTMCache from :func:`lstm_forward`
    dh_T, dc_T : (B, H) float or None, gradient with respect to the final state (h_T, c_T)
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
    beta = _g_columns(H, xp).astype(x.dtype)                 # 1 on the g columns, else 0
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
# Generation at batch 1
# ----------------------------------------------------------------------------------------------
class BatchOneLSTM:
    """One token in, the next token's logits out: an LSTM language model's forward pass at
    T = B = 1, for generating text.

    The numbers of the model's forward (embedding, LSTM layers, decoder; dropout is off in
    generation), with the per-call costs of the general path taken out. At batch 1 the
    arithmetic is a few matrix-vector products, so those costs were most of the step:

    * every buffer (gate rows, state, logits) is allocated once, here, and written in place;
    * nothing is validated per token: the weights and the state are checked once, here;
    * the decoder's weight is a contiguous (H, V) copy: a tied decoder reads the embedding
      matrix transposed, and a product with a transposed view at one row is 2-7x slower;
    * the :class:`GateForm`'s scaling is applied to the (1, 4H) pre-activation row (as in
      :func:`lstm_inference`), not to copies of the weights.

    Parameters
    ----------
    embedding : (V, E) float
    layers : list of (Wx (D, 4H), Wh (H, 4H), b (4H,)), bottom layer first
    decoder_W : (H, V) float; decoder_b : (V,) float
    h0, c0 : (L, 1, H) float, the state to start from (copied)

    Calling ``step(token)`` returns the logits ``(V,)`` (a buffer that the next call
    overwrites) and advances the state, readable as ``state`` ((L, 1, H) arrays).
    """

    def __init__(self, embedding, layers, decoder_W, decoder_b, h0, c0):
        xp = get_array_module(embedding)
        self.xp = xp
        H = layers[0][1].shape[0]
        L = len(layers)
        if tuple(h0.shape) != (L, 1, H) or tuple(c0.shape) != (L, 1, H):
            raise ValueError(f"BatchOneLSTM: the state must be two (L, 1, H) = {(L, 1, H)} arrays, "
                             f"got {tuple(h0.shape)} and {tuple(c0.shape)}")
        for k, (Wx, Wh, b) in enumerate(layers):
            D = embedding.shape[1] if k == 0 else H
            check_lstm_shapes(xp.empty((1, 1, D), dtype=Wx.dtype), h0[k], c0[k], Wx, Wh, b,
                              name=f"BatchOneLSTM layer {k}")
        self.embedding, self.layers, self.H = embedding, layers, H
        self.decoder_W = xp.ascontiguousarray(decoder_W)
        self.decoder_b = decoder_b
        self.h, self.c = h0.copy(), c0.copy()
        dtype = embedding.dtype
        self.form = gate_form(H, dtype, xp)
        self.pre = xp.empty((1, 4 * H), dtype=dtype)
        self.recurrent = xp.empty((1, 4 * H), dtype=dtype)
        self.ig = xp.empty((1, H), dtype=dtype)
        self.tanh_c = xp.empty((1, H), dtype=dtype)
        self.logits = xp.empty((1, decoder_W.shape[1]), dtype=dtype)

    @property
    def state(self):
        return self.h, self.c

    def step(self, token: int):
        """Feed ``token`` (an int in [0, V)) -> logits (V,) for the token after it."""
        xp, H, a = self.xp, self.H, self.pre
        x = self.embedding[token:token + 1]                  # (1, E), a view
        with _overflow_allowed(xp):
            for k, (Wx, Wh, b) in enumerate(self.layers):
                h, c = self.h[k], self.c[k]                  # (1, H) views, updated in place
                xp.matmul(x, Wx, out=a)
                xp.matmul(h, Wh, out=self.recurrent)
                a += self.recurrent
                a += b
                a *= self.form.pre_scale
                activate_gates(a, H, self.form, xp)
                i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
                c *= f
                xp.multiply(i, g, out=self.ig)
                c += self.ig
                xp.tanh(c, out=self.tanh_c)
                xp.multiply(o, self.tanh_c, out=h)
                x = h
        xp.matmul(x, self.decoder_W, out=self.logits)
        self.logits += self.decoder_b
        return self.logits[0]
