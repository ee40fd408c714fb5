"""Specs of rnn.py and lstm.py: one step and through time, forward and backward."""
from __future__ import annotations

from itertools import permutations

from ...backend import np
from ...nn import functional as F
from ..integration import model_rung
from ..ladder import (GATES, Case, KnownBug, Spec, WrongArity, any_of, compare_value, mutant,
                      with_globals)
from .common import backward_cases, cache_rung, gradients, randn

_STEP_LABELS = ["B 3, D 5, H 4", "B 1, D 2, H 3", "B 2, D 3, H 2, float32"]
_STEP_SHAPES = [(3, 5, 4), (1, 2, 3), (2, 3, 2)]
_SEQ_LABELS = ["T 4, B 3, D 5, H 4", "T 1, B 2, D 3, H 2", "T 6, B 1, D 2, H 3",
               "T 3, B 2, D 4, H 3, float32", "T 5, B 2, D 3, H 2, no dhs from above"]
_SEQ_SHAPES = [(4, 3, 5, 4), (1, 2, 3, 2), (6, 1, 2, 3), (3, 2, 4, 3), (5, 2, 3, 2)]


def _dtype(label):
    return np.float32 if "float32" in label else np.float64


def _cases(labels, make):
    return lambda: [Case(label, (lambda k=k: make(k)), 1e-5 if "float32" in label else 1e-9)
                    for k, label in enumerate(labels)]


def _upstream(k, outputs):
    return [randn(200 + k + 7 * j, o.shape, dtype=o.dtype) for j, o in enumerate(outputs)]


def _sequence_upstream(k, outputs):
    """Gradients for (hs, h_T[, c_T]); the last case has none from above (dhs is None)."""
    up = _upstream(k, outputs)
    if "no dhs" in _SEQ_LABELS[k]:
        up[0] = np.zeros_like(up[0])
    return up


def _maybe(array):
    """None for an all-zero upstream gradient (the library's 'no gradient' convention)."""
    return None if not np.any(array) else array


def _gate_hint(order: str) -> str:
    return (f"Your gates look read in the order {', '.join(order)}; the library's order is "
            "i, f, g, o: columns 0:H input gate, H:2H forget gate, 2H:3H candidate g (tanh), 3H:4H "
            "output gate.")


def _permute_blocks(array, order: str):
    """The columns of a fused (..., 4H) array rearranged so that block j of the result is the
    block where ``order`` keeps gate ``GATES[j]``."""
    H = array.shape[-1] // 4
    return np.concatenate([array[..., order.index(g) * H:(order.index(g) + 1) * H] for g in GATES],
                          axis=-1)


_ORDERS = ["".join(p) for p in permutations(GATES) if "".join(p) != GATES]


def bias_not_summed(rows_of):
    """A detector: db kept per row, averaged over the rows, or taken from one row."""
    def detect(case, got, want):
        rows = rows_of(case.make())
        db = got.get("db")
        if compare_value("db", db, want["db"], 1e-7) is None:
            return False                      # db is right: the failure lies elsewhere
        shape = getattr(db, "shape", None)
        if shape is not None and shape != want["db"].shape and shape[-1:] == want["db"].shape:
            return True
        return any(compare_value("db", db, alt, 1e-7) is None for alt in (rows.mean(axis=0), rows[0]))
    return detect


BIAS_HINT = ("db is the sum of da over the batch (da.sum(axis=0)): the bias is added to every row. "
             "It has the shape of b.")


# ---------------------------------------------------------------------------------------------
# LSTM, one step
# ---------------------------------------------------------------------------------------------
def _lstm_step_inputs(k):
    B, D, H = _STEP_SHAPES[k]
    x, h, c, Wx, Wh, b = randn(300 + k, (B, D), (B, H), (B, H), (D, 4 * H), (H, 4 * H), (4 * H,),
                               dtype=_dtype(_STEP_LABELS[k]))
    return dict(x=x, h_prev=h, c_prev=c, Wx=Wx * 0.6, Wh=Wh * 0.6, b=b * 0.6)


def _lstm_step_grads(raw):
    return dict(zip(("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"), raw))


def _gate_gradient(dh, dc, cache):
    """da (B, 4H) of the library's step backward: dWx = x^T da, so with x the identity, dWx = da."""
    eye = np.eye(cache.x.shape[0], dtype=cache.x.dtype)
    return F.lstm_step_backward(dh, dc, cache._replace(x=eye))[3]


def _from_gate_gradient(da, cache, dc_prev):
    """The step's gradients from a given da, as the affine part of the backward pass makes them."""
    return (da @ cache.Wx.T, da @ cache.Wh.T, dc_prev, cache.x.T @ da, cache.h_prev.T @ da,
            da.sum(axis=0))


def _missing_h_route(dh, dc, cache):
    """The bug: c gets only dc from the future, not dh * o * (1 - tanh(c)^2) from its own h."""
    return F.lstm_step_backward(dh, dc - dh * cache.o * (1.0 - cache.tanh_c ** 2), cache)


def _dwh_from_h(dh, dc, cache):
    """The bug: dWh = h_t^T da instead of h_{t-1}^T da."""
    grads = list(F.lstm_step_backward(dh, dc, cache))
    grads[4] = (cache.o * cache.tanh_c).T @ _gate_gradient(dh, dc, cache)
    return tuple(grads)


def _da_in_order(order):
    def buggy(dh, dc, cache):
        da = _gate_gradient(dh, dc, cache)
        dc_prev = F.lstm_step_backward(dh, dc, cache)[2]
        # the student concatenated the gate gradients in ``order``: block j holds gate order[j]
        H = da.shape[1] // 4
        shuffled = np.concatenate([da[:, GATES.index(g) * H:(GATES.index(g) + 1) * H] for g in order], axis=1)
        return _from_gate_gradient(shuffled, cache, dc_prev)
    return buggy


def _dc_prev_without_f(dh, dc, cache):
    grads = list(F.lstm_step_backward(dh, dc, cache))
    grads[2] = dc + dh * cache.o * (1.0 - cache.tanh_c ** 2)
    return tuple(grads)


_lstm_step_values, _lstm_step_gradient_cases = backward_cases(
    F.lstm_step_forward, _lstm_step_inputs, _upstream, _STEP_LABELS,
    lambda up, cache: dict(dh=up[0], dc=up[1], cache=cache))

LSTM_STEP_FORWARD = Spec(
    "lstm_step_forward", _cases(_STEP_LABELS, _lstm_step_inputs), outputs=("h", "c", "cache"),
    cache=cache_rung(_cases(_STEP_LABELS, _lstm_step_inputs), F.lstm_step_backward, _upstream,
                     lambda bw, up, cache: _lstm_step_grads(bw(up[0], up[1], cache)),
                     "lstm_step_backward"),
    bugs=tuple(KnownBug(_gate_hint(order), mutant(
        lambda x, h_prev, c_prev, Wx, Wh, b, order=order: F.lstm_step_forward(
            x, h_prev, c_prev, _permute_blocks(Wx, order), _permute_blocks(Wh, order),
            _permute_blocks(b, order)), ("h", "c"))) for order in _ORDERS) + (
        KnownBug("h = o * tanh(c): the output gate scales the squashed cell, not the cell itself.",
                 mutant(lambda x, h_prev, c_prev, Wx, Wh, b: _h_without_tanh(x, h_prev, c_prev, Wx, Wh, b),
                        ("h",))),
        KnownBug("The candidate g = tanh(a_g), not a sigmoid: it can be negative, which lets the "
                 "cell decrease.",
                 mutant(lambda x, h_prev, c_prev, Wx, Wh, b: _g_sigmoid(x, h_prev, c_prev, Wx, Wh, b),
                        ("h", "c")))),
    integration=lambda fn: model_rung("lstm_step_forward", fn))


def _h_without_tanh(x, h_prev, c_prev, Wx, Wh, b):
    h, c, cache = F.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
    return cache.o * c, c, cache


def _g_sigmoid(x, h_prev, c_prev, Wx, Wh, b):
    H = Wh.shape[0]
    a = x @ Wx + h_prev @ Wh + b
    i, f, g, o = (F.sigmoid(a[:, k * H:(k + 1) * H]) for k in range(4))
    c = f * c_prev + i * g
    return o * np.tanh(c), c, None


LSTM_STEP_BACKWARD = Spec(
    "lstm_step_backward", lambda: _lstm_step_values,
    outputs=("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"),
    axes={"dWx": ("input", "gates"), "dWh": ("hidden", "gates"), "db": ("gates",)},
    gradients=gradients(F.lstm_step_forward, _lstm_step_gradient_cases,
                        {"x": "dx", "h_prev": "dh_prev", "c_prev": "dc_prev", "Wx": "dWx",
                         "Wh": "dWh", "b": "db"},
                        lambda fn, up, cache: _lstm_step_grads(fn(up[0], up[1], cache))),
    bugs=(KnownBug("The cell gradient misses the route through h: c_t also reaches the loss "
                   "through h_t = o_t tanh(c_t) of this very step, so dc = dc_next + dh * o * "
                   "(1 - tanh(c)^2) before it goes on to f, i, g and c_prev.",
                   mutant(_missing_h_route, ("dx", "dh_prev", "dc_prev", "dWx", "dWh", "db"))),
          KnownBug("dWh must use h_{t-1}, the state Wh multiplied in the forward pass "
                   "(cache.h_prev), not the new h_t: dWh = h_prev^T da.",
                   mutant(_dwh_from_h, ("dWh",))),
          KnownBug("dc_prev = dc * f: the old cell reached c through the forget gate.",
                   mutant(_dc_prev_without_f, ("dc_prev",))),
          KnownBug(BIAS_HINT, bias_not_summed(lambda inp: _gate_gradient(inp["dh"], inp["dc"], inp["cache"]))))
    + tuple(KnownBug(f"Your gate gradients are concatenated in the order {', '.join(order)}; "
                     "concatenate di, df, dg, do in the order of the forward pass, i, f, g, o.",
                     mutant(_da_in_order(order), ("dx", "dWx", "dWh", "db"))) for order in _ORDERS),
    integration=lambda fn: model_rung("lstm_step_backward", fn))


# ---------------------------------------------------------------------------------------------
# LSTM through time
# ---------------------------------------------------------------------------------------------
def _lstm_inputs(k):
    T, B, D, H = _SEQ_SHAPES[k]
    x, h0, c0, Wx, Wh, b = randn(400 + k, (T, B, D), (B, H), (B, H), (D, 4 * H), (H, 4 * H),
                                 (4 * H,), dtype=_dtype(_SEQ_LABELS[k]))
    return dict(x=x, h0=h0, c0=c0, Wx=Wx * 0.6, Wh=Wh * 0.6, b=b * 0.6)


def _unpack_lstm_forward(raw):
    if (not isinstance(raw, tuple) or len(raw) != 3 or not isinstance(raw[1], tuple)
            or len(raw[1]) != 2):
        raise WrongArity("should return hs, (h_T, c_T), cache")
    hs, (h_T, c_T), cache = raw
    return dict(hs=hs, h_T=h_T, c_T=c_T, cache=cache)


def _lstm_forward_restarting(x, h0, c0, Wx, Wh, b):
    """The bug: every step starts from (h0, c0) instead of the previous step's state."""
    steps = [F.lstm_step_forward(x[t], h0, c0, Wx, Wh, b) for t in range(x.shape[0])]
    return np.stack([s[0] for s in steps]), (steps[-1][0], steps[-1][1]), None


def _lstm_grads(raw):
    return dict(zip(("dx", "dh0", "dc0", "dWx", "dWh", "db"), raw))


def _call_lstm_backward(fn, up, cache):
    return _lstm_grads(fn(_maybe(up[0]), cache, _maybe(up[1]), _maybe(up[2])))


_lstm_values, _lstm_gradient_cases = backward_cases(
    F.lstm_forward, _lstm_inputs, _sequence_upstream, _SEQ_LABELS,
    lambda up, cache: dict(dhs=_maybe(up[0]), cache=cache, dh_T=_maybe(up[1]), dc_T=_maybe(up[2])))

LSTM_FORWARD = Spec(
    "lstm_forward", _cases(_SEQ_LABELS, _lstm_inputs), outputs=("hs", "h_T", "c_T", "cache"),
    call=lambda fn, inputs: _unpack_lstm_forward(fn(*inputs.values())),
    axes={"hs": ("time", "batch", "hidden")},
    cache=cache_rung(_cases(_SEQ_LABELS, _lstm_inputs), F.lstm_backward, _sequence_upstream,
                     _call_lstm_backward, "lstm_backward"),
    bugs=(KnownBug("Carry the state: step t starts from the h and c that step t-1 returned, not "
                   "from h0 and c0.",
                   mutant(lambda **kw: _unpack_lstm_forward(_lstm_forward_restarting(**kw)), ("hs",))),),
    depends_on=("lstm_step_forward",),
    integration=lambda fn: model_rung("lstm_forward", fn))


def _through_time_with_step(through_time, step_name, change):
    """The library's backward through time, with each step's gradients passed through ``change``
    (a bug model of what goes wrong between the steps)."""
    step = getattr(F, step_name)

    def patched(*args):
        return change(step(*args))
    return with_globals(through_time, **{step_name: patched})


def _without_dh_T(through_time):
    """The same through-time backward with no gradient on the final hidden state (the student who
    writes dh = dhs[t] ignores dh_T as well)."""
    def buggy(**inputs):
        values = dict(inputs)
        values["dh_T"] = None
        return through_time(*values.values())
    return buggy


def _no_future_dh(grads):
    grads = list(grads)
    grads[1] = np.zeros_like(grads[1])
    return tuple(grads)


def _no_future_dc(grads):
    grads = list(grads)
    grads[2] = np.zeros_like(grads[2])
    return tuple(grads)


def _last_step_only(through_time, step_name, n_states):
    """The bug ``dW = dW_t`` instead of ``dW += dW_t``: the weight gradients of step 0 alone."""
    def buggy(**inputs):
        seen = []
        step = getattr(F, step_name)

        def recording(*args):
            out = step(*args)
            seen.append(out)
            return out
        raw = list(with_globals(through_time, **{step_name: recording})(*inputs.values()))
        raw[1 + n_states:] = seen[-1][1 + n_states:]
        return tuple(raw)
    return buggy


def _ignoring_final_state(through_time, n_states):
    def buggy(**inputs):
        values = list(inputs.values())
        return through_time(values[0], values[1])
    return buggy


LSTM_BACKWARD = Spec(
    "lstm_backward", lambda: _lstm_values, outputs=("dx", "dh0", "dc0", "dWx", "dWh", "db"),
    axes={"dx": ("time", "batch", "input"), "dWx": ("input", "gates"), "dWh": ("hidden", "gates"),
          "db": ("gates",)},
    gradients=gradients(F.lstm_forward, _lstm_gradient_cases,
                        {"x": "dx", "h0": "dh0", "c0": "dc0", "Wx": "dWx", "Wh": "dWh", "b": "db"},
                        _call_lstm_backward),
    bugs=(KnownBug("The gradient from the future is not added to dh: h_t feeds the layer above "
                   "*and* step t+1, so at step t use dh = dhs[t] + dh_next (dh_next starting as "
                   "dh_T).",
                   any_of(mutant(_through_time_with_step(F.lstm_backward, "lstm_step_backward", _no_future_dh),
                                 ("dx", "dWx", "dWh", "db", "dc0")),
                          mutant(_without_dh_T(_through_time_with_step(
                              F.lstm_backward, "lstm_step_backward", _no_future_dh)),
                                 ("dx", "dWx", "dWh", "db", "dc0")))),
          KnownBug("The cell gradient from the future is lost: pass dc_next, which the step "
                   "returned as dc_prev, into the step before.",
                   mutant(_through_time_with_step(F.lstm_backward, "lstm_step_backward", _no_future_dc),
                          ("dx", "dWx", "dWh", "db", "dh0"))),
          KnownBug("The weights are used at every step: add their gradients up over time "
                   "(dWx += dWx_t), do not overwrite them.",
                   mutant(_last_step_only(F.lstm_backward, "lstm_step_backward", 2), ("dWx", "dWh", "db"))),
          KnownBug("dh_T and dc_T are the gradients on the final state: start the walk back from "
                   "them (zeros only when they are None).",
                   mutant(_ignoring_final_state(F.lstm_backward, 2), ("dx", "dh0", "dc0")))),
    depends_on=("lstm_step_backward",),
    integration=lambda fn: model_rung("lstm_backward", fn))


# ---------------------------------------------------------------------------------------------
# RNN, one step and through time
# ---------------------------------------------------------------------------------------------
def _rnn_step_inputs(k):
    B, D, H = _STEP_SHAPES[k]
    x, h, Wx, Wh, b = randn(500 + k, (B, D), (B, H), (D, H), (H, H), (H,), dtype=_dtype(_STEP_LABELS[k]))
    return dict(x=x, h_prev=h, Wx=Wx * 0.6, Wh=Wh * 0.6, b=b * 0.6)


def _rnn_step_grads(raw):
    return dict(zip(("dx", "dh_prev", "dWx", "dWh", "db"), raw))


_rnn_step_values, _rnn_step_gradient_cases = backward_cases(
    F.rnn_step_forward, _rnn_step_inputs, _upstream, _STEP_LABELS,
    lambda up, cache: dict(dh=up[0], cache=cache))


def _rnn_dwh_from_h(dh, cache):
    grads = list(F.rnn_step_backward(dh, cache))
    grads[3] = cache.h.T @ (dh * (1.0 - cache.h * cache.h))
    return tuple(grads)


def _rnn_without_tanh_slope(dh, cache):
    return (dh @ cache.Wx.T, dh @ cache.Wh.T, cache.x.T @ dh, cache.h_prev.T @ dh, dh.sum(axis=0))


RNN_STEP_FORWARD = Spec(
    "rnn_step_forward", _cases(_STEP_LABELS, _rnn_step_inputs), outputs=("h", "cache"),
    cache=cache_rung(_cases(_STEP_LABELS, _rnn_step_inputs), F.rnn_step_backward, _upstream,
                     lambda bw, up, cache: _rnn_step_grads(bw(up[0], cache)), "rnn_step_backward"),
    bugs=(KnownBug("h = tanh(x Wx + h_prev Wh + b): the recurrent term h_prev Wh is what makes it "
                   "a recurrent network.",
                   mutant(lambda x, h_prev, Wx, Wh, b: (np.tanh(x @ Wx + b), None), ("h",))),),
    integration=lambda fn: model_rung("rnn_step_forward", fn, cell="rnn"))

RNN_STEP_BACKWARD = Spec(
    "rnn_step_backward", lambda: _rnn_step_values, outputs=("dx", "dh_prev", "dWx", "dWh", "db"),
    gradients=gradients(F.rnn_step_forward, _rnn_step_gradient_cases,
                        {"x": "dx", "h_prev": "dh_prev", "Wx": "dWx", "Wh": "dWh", "b": "db"},
                        lambda fn, up, cache: _rnn_step_grads(fn(up[0], cache))),
    bugs=(KnownBug("dWh must use h_{t-1}, the state Wh multiplied in the forward pass "
                   "(cache.h_prev), not the new h: dWh = h_prev^T da.",
                   mutant(_rnn_dwh_from_h, ("dWh",))),
          KnownBug("Go through tanh first: da = dh * (1 - h^2), then the affine gradients.",
                   mutant(_rnn_without_tanh_slope, ("dx", "dh_prev", "dWx", "dWh", "db"))),
          KnownBug(BIAS_HINT, bias_not_summed(
              lambda inp: inp["dh"] * (1.0 - inp["cache"].h ** 2)))),
    integration=lambda fn: model_rung("rnn_step_backward", fn, cell="rnn"))


def _rnn_inputs(k):
    T, B, D, H = _SEQ_SHAPES[k]
    x, h0, Wx, Wh, b = randn(600 + k, (T, B, D), (B, H), (D, H), (H, H), (H,), dtype=_dtype(_SEQ_LABELS[k]))
    return dict(x=x, h0=h0, Wx=Wx * 0.6, Wh=Wh * 0.6, b=b * 0.6)


def _rnn_grads(raw):
    return dict(zip(("dx", "dh0", "dWx", "dWh", "db"), raw))


def _call_rnn_backward(fn, up, cache):
    return _rnn_grads(fn(_maybe(up[0]), cache, _maybe(up[1])))


def _rnn_forward_restarting(x, h0, Wx, Wh, b):
    hs = np.stack([F.rnn_step_forward(x[t], h0, Wx, Wh, b)[0] for t in range(x.shape[0])])
    return hs, hs[-1], None


_rnn_values, _rnn_gradient_cases = backward_cases(
    F.rnn_forward, _rnn_inputs, _sequence_upstream, _SEQ_LABELS,
    lambda up, cache: dict(dhs=_maybe(up[0]), cache=cache, dh_T=_maybe(up[1])))

RNN_FORWARD = Spec(
    "rnn_forward", _cases(_SEQ_LABELS, _rnn_inputs), outputs=("hs", "h_T", "cache"),
    axes={"hs": ("time", "batch", "hidden")},
    cache=cache_rung(_cases(_SEQ_LABELS, _rnn_inputs), F.rnn_backward, _sequence_upstream,
                     _call_rnn_backward, "rnn_backward"),
    bugs=(KnownBug("Carry the state: step t starts from the h that step t-1 returned, not from h0.",
                   mutant(_rnn_forward_restarting, ("hs",))),),
    depends_on=("rnn_step_forward",),
    integration=lambda fn: model_rung("rnn_forward", fn, cell="rnn"))

RNN_BACKWARD = Spec(
    "rnn_backward", lambda: _rnn_values, outputs=("dx", "dh0", "dWx", "dWh", "db"),
    axes={"dx": ("time", "batch", "input")},
    gradients=gradients(F.rnn_forward, _rnn_gradient_cases,
                        {"x": "dx", "h0": "dh0", "Wx": "dWx", "Wh": "dWh", "b": "db"},
                        _call_rnn_backward),
    bugs=(KnownBug("The gradient from the future is not added to dh: h_t feeds the output *and* "
                   "step t+1, so at step t use dh = dhs[t] + dh_next (dh_next starting as dh_T).",
                   any_of(mutant(_through_time_with_step(F.rnn_backward, "rnn_step_backward", _no_future_dh),
                                 ("dx", "dWx", "dWh", "db")),
                          mutant(_without_dh_T(_through_time_with_step(
                              F.rnn_backward, "rnn_step_backward", _no_future_dh)),
                                 ("dx", "dWx", "dWh", "db")))),
          KnownBug("The weights are used at every step: add their gradients up over time "
                   "(dWx += dWx_t), do not overwrite them.",
                   mutant(_last_step_only(F.rnn_backward, "rnn_step_backward", 1), ("dWx", "dWh", "db"))),
          KnownBug("dh_T is the gradient on the final state: start the walk back from it (zeros "
                   "only when it is None).",
                   mutant(_ignoring_final_state(F.rnn_backward, 1), ("dx", "dh0")))),
    depends_on=("rnn_step_backward",),
    integration=lambda fn: model_rung("rnn_backward", fn, cell="rnn"))

SPECS = {s.name: s for s in (RNN_STEP_FORWARD, RNN_STEP_BACKWARD, RNN_FORWARD, RNN_BACKWARD,
                             LSTM_STEP_FORWARD, LSTM_STEP_BACKWARD, LSTM_FORWARD, LSTM_BACKWARD)}
