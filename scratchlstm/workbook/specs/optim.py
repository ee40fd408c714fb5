"""Specs of optim.py: global-norm clipping, SGD with momentum, Adam."""
from __future__ import annotations

import math

from ...backend import np
from ...nn.module import Parameter
from ... import optim
from ..integration import optimizer_rung
from ..ladder import Case, KnownBug, Spec, close, mutant
from .common import randn

_SHAPES = [(3, 4), (5,), (2, 2, 3)]


def _params(seed, scale, dtype=np.float64):
    params = []
    for k, shape in enumerate(_SHAPES):
        p = Parameter(np.zeros(shape, dtype=dtype))
        p.grad = randn(seed + k, shape, scale=scale, dtype=dtype)
        params.append(p)
    return params


_CLIP_CASES = [("gradients of norm ~9, max_norm 1 (clipped)", 20, 1.0, 1.0, np.float64),
               ("gradients of norm ~0.9, max_norm 5 (left alone)", 30, 0.1, 5.0, np.float64),
               ("norm ~9, max_norm 2, float32", 40, 1.0, 2.0, np.float32)]


def _clip_inputs(k):
    _, seed, scale, max_norm, dtype = _CLIP_CASES[k]
    return dict(params=_params(seed, scale, dtype), max_norm=max_norm)


def _clip_call(fn, inputs):
    norm = fn(inputs["params"], inputs["max_norm"])
    out = {"norm": float(norm) if np.ndim(norm) == 0 and norm is not None else norm}
    out.update({f"grad {k}": p.grad for k, p in enumerate(inputs["params"])})
    return out


def _per_tensor(params, max_norm):
    norms = [float(np.sqrt((p.grad.astype(np.float64) ** 2).sum())) for p in params]
    for p, n in zip(params, norms):
        if n > max_norm:
            p.grad *= max_norm / (n + 1e-6)
    return math.sqrt(sum(n * n for n in norms))


def _always_rescaled(params, max_norm):
    norm = optim.grad_norm(params)
    for p in params:
        p.grad *= max_norm / (norm + 1e-6)
    return norm


def _norm_after(case, got, want):
    inputs = case.make()
    norm = optim.grad_norm(inputs["params"])
    return norm > inputs["max_norm"] and got.get("norm") is not None and \
        abs(float(got["norm"]) - inputs["max_norm"]) < 1e-4 * inputs["max_norm"]


_GRADS = tuple(f"grad {k}" for k in range(len(_SHAPES)))

CLIP_GRAD_NORM = Spec(
    "clip_grad_norm",
    lambda: [Case(c[0], (lambda k=k: _clip_inputs(k)), 1e-5 if c[4] is np.float32 else 1e-9)
             for k, c in enumerate(_CLIP_CASES)],
    outputs=("norm",) + _GRADS, call=_clip_call, changes=("params",),
    bugs=(KnownBug("Clip by the *global* norm: one norm over all the gradients together, "
                   "sqrt(sum over p of sum(p.grad^2)), and one scale for all. Clipping each tensor "
                   "on its own changes the direction of the step.",
                   mutant(lambda params, max_norm: _clip_call(lambda *a: _per_tensor(*a),
                                                              dict(params=params, max_norm=max_norm)),
                          _GRADS)),
          KnownBug("Only shrink: when the norm is already at most max_norm, leave the gradients "
                   "as they are.",
                   mutant(lambda params, max_norm: _clip_call(lambda *a: _always_rescaled(*a),
                                                              dict(params=params, max_norm=max_norm)),
                          _GRADS)),
          KnownBug("Return the norm from *before* clipping: it is what training logs to see how "
                   "large the gradients were.", _norm_after)),
    integration=lambda fn: optimizer_rung("clip_grad_norm", fn))

# ---------------------------------------------------------------------------------------------
_SGD_CASES = [("momentum 0.9, a velocity from earlier steps", 0.9, True, np.float64),
              ("plain SGD, momentum 0", 0.0, False, np.float64),
              ("momentum 0.5, float32", 0.5, True, np.float32)]


def _sgd_inputs(k):
    _, momentum, warm, dtype = _SGD_CASES[k]
    param, grad, velocity = randn(70 + k, (3, 4), (3, 4), (3, 4), dtype=dtype)
    return dict(param=param, grad=grad, velocity=velocity if warm else np.zeros_like(param),
                lr=0.1, momentum=momentum)


def _updated(names):
    def call(fn, inputs):
        fn(*inputs.values())
        return {name: inputs[name] for name in names}
    return call


def _left_unchanged(name):
    """A detector: the array ``name`` is unchanged, though the library changes it."""
    def detect(case, got, want):
        before = case.make()[name]
        return close(got, {name: before}, (name,), 1e-12) and not close(want, {name: before}, (name,), 1e-12)
    return detect


IN_PLACE_HINT = ("Update the arrays in place (param -= ..., m *= ...): `param = param - ...` "
                 "builds a new array and leaves the caller's untouched.")


def _sgd_other_convention(param, grad, velocity, lr, momentum):
    velocity *= momentum
    velocity -= lr * grad
    param += velocity
    return {"param": param, "velocity": velocity}


SGD_STEP = Spec(
    "sgd_step",
    lambda: [Case(c[0], (lambda k=k: _sgd_inputs(k)), 1e-5 if c[3] is np.float32 else 1e-9)
             for k, c in enumerate(_SGD_CASES)],
    outputs=("param", "velocity"), call=_updated(("param", "velocity")),
    changes=("param", "velocity"),
    bugs=(KnownBug(IN_PLACE_HINT, _left_unchanged("param")),
          KnownBug("The velocity here follows PyTorch's convention, v = momentum v + grad, and the "
                   "step is param -= lr v (not v = momentum v - lr grad; param += v).",
                   mutant(_sgd_other_convention, ("velocity",)))),
    integration=lambda fn: optimizer_rung("sgd_step", fn))

# ---------------------------------------------------------------------------------------------
_ADAM_CASES = [("the first step, t 1", 1, False, (0.9, 0.999), np.float64),
               ("t 5, moments from earlier steps", 5, True, (0.9, 0.999), np.float64),
               ("t 3, betas (0.8, 0.99)", 3, True, (0.8, 0.99), np.float64),
               ("t 2, float32", 2, True, (0.9, 0.999), np.float32)]


def _adam_inputs(k):
    _, t, warm, (b1, b2), dtype = _ADAM_CASES[k]
    param, grad, m, v = randn(80 + k, (4, 3), (4, 3), (4, 3), (4, 3), dtype=dtype)
    return dict(param=param, grad=grad, m=m * 0.1 if warm else np.zeros_like(param),
                v=(v * v) * 0.01 if warm else np.zeros_like(param), t=t, lr=0.01, beta1=b1,
                beta2=b2, eps=1e-8)


def _adam_variant(change):
    def buggy(param, grad, m, v, t, lr, beta1, beta2, eps):
        change(param, grad, m, v, t, lr, beta1, beta2, eps)
        return {"param": param, "m": m, "v": v}
    return buggy


def _adam_eps_inside(param, grad, m, v, t, lr, beta1, beta2, eps):
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad * grad
    param -= lr * (m / (1 - beta1 ** t)) / np.sqrt(v / (1 - beta2 ** t) + eps)


def _adam_corrected_in_place(param, grad, m, v, t, lr, beta1, beta2, eps):
    optim.adam_step(param, grad, m, v, t, lr, beta1, beta2, eps)
    m /= 1 - beta1 ** t
    v /= 1 - beta2 ** t


ADAM_STEP = Spec(
    "adam_step",
    lambda: [Case(c[0], (lambda k=k: _adam_inputs(k)), 1e-5 if c[4] is np.float32 else 1e-9)
             for k, c in enumerate(_ADAM_CASES)],
    outputs=("param", "m", "v"), call=_updated(("param", "m", "v")), changes=("param", "m", "v"),
    bugs=(KnownBug("Adam needs its bias corrections, m_hat = m / (1 - beta1^t) and v_hat = v / "
                   "(1 - beta2^t): the moments start at zero, and without them the first steps are "
                   "several times too large (3.2x at t = 1 with the default betas).",
                   mutant(_adam_variant(lambda p, g, m, v, t, lr, b1, b2, eps:
                                        optim.adam_step(p, g, m, v, 10 ** 9, lr, b1, b2, eps)),
                          ("param",))),
          KnownBug("eps goes outside the square root: param -= lr m_hat / (sqrt(v_hat) + eps).",
                   mutant(_adam_variant(_adam_eps_inside), ("param",), tol=1e-12)),
          KnownBug("Keep m and v uncorrected: the bias corrections belong to this step's update "
                   "only (m_hat and v_hat are new arrays).",
                   mutant(_adam_variant(_adam_corrected_in_place), ("m", "v"))),
          KnownBug(IN_PLACE_HINT, _left_unchanged("param"))),
    integration=lambda fn: optimizer_rung("adam_step", fn))

SPECS = {s.name: s for s in (CLIP_GRAD_NORM, SGD_STEP, ADAM_STEP)}
