r"""Finite-difference gradient checks: the proof that a hand-written backward pass is right.

For a scalar function :math:`L(\theta)` the central difference

.. math::  \frac{\partial L}{\partial \theta_k} \approx
           \frac{L(\theta + h e_k) - L(\theta - h e_k)}{2h}

has an error of order :math:`h^2`. In float64 with ``h = 1e-6`` it agrees with a correct analytic
gradient to about 1e-9 relative error; a wrong backward pass is off by far more than that. Always
check in float64: float32 has only ~7 significant digits, so the difference quotient itself would
be noise.

The relative error used throughout is ``||a - b|| / max(||a|| + ||b||, tiny)`` over a whole
gradient array: a single number per parameter that is 0 for identical arrays, 1 for arrays of
opposite sign, and insensitive to entries that are zero in both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from .backend import get_array_module, to_host, np


def relative_error(a, b) -> float:
    """``||a - b|| / max(||a|| + ||b||, 1e-300)`` (Euclidean norms over all entries)."""
    a = to_host(a).astype(np.float64)
    b = to_host(b).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"relative_error: shapes differ, {a.shape} vs {b.shape}")
    denom = max(float(np.linalg.norm(a) + np.linalg.norm(b)), 1e-300)
    return float(np.linalg.norm(a - b)) / denom


def numerical_gradient(f: Callable[[], float], x, h: float = 1e-5, indices=None):
    """Central-difference gradient of a scalar function with respect to the array ``x``.

    ``x`` is perturbed *in place*, one entry at a time, and restored afterwards; ``f()`` must read
    ``x`` when called (a closure over the array, such as a loss over a model's parameters).

    Parameters
    ----------
    f : callable returning a float (or 0-d array)
    x : array (float64 recommended), perturbed in place
    h : float, step size
    indices : iterable of flat indices or None (all entries). Checking a sample is enough for large
        arrays.

    Returns
    -------
    grad : array shaped like ``x`` (entries not in ``indices`` are 0)
    """
    xp = get_array_module(x)
    grad = xp.zeros_like(x)
    flat_x = x.reshape(-1)
    flat_g = grad.reshape(-1)
    if indices is None:
        indices = range(flat_x.size)
    for k in indices:
        old = flat_x[k].copy()
        flat_x[k] = old + h
        f_plus = float(f())
        flat_x[k] = old - h
        f_minus = float(f())
        flat_x[k] = old
        flat_g[k] = (f_plus - f_minus) / (2.0 * h)
    return grad


def _sample_indices(size: int, max_checks: int | None, rng):
    if max_checks is not None and (isinstance(max_checks, bool) or int(max_checks) != max_checks
                                   or max_checks < 1):
        # zero checks would report a perfect score after comparing nothing
        raise ValueError(f"max_checks must be a positive integer or None (all entries), got {max_checks!r}")
    if max_checks is None or size <= max_checks:
        return None
    return rng.choice(size, size=max_checks, replace=False)


@dataclass
class GradcheckResult:
    """Relative errors of analytic against numerical gradients, one entry per checked array."""

    errors: dict = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max(self.errors.values()) if self.errors else 0.0

    def passed(self, tol: float = 1e-6) -> bool:
        """True when at least one array was checked and every error is below ``tol``."""
        return bool(self.errors) and self.worst < tol

    def __str__(self) -> str:
        width = max((len(k) for k in self.errors), default=4)
        lines = [f"{name:<{width}}  rel. error {err:.2e}" for name, err in self.errors.items()]
        lines.append(f"{'worst':<{width}}  rel. error {self.worst:.2e}")
        return "\n".join(lines)


def check_function(forward: Callable, backward: Callable, inputs: Sequence, names=None,
                   seed: int = 0, h: float = 1e-5, max_checks: int | None = None,
                   check: Sequence[int] | None = None) -> GradcheckResult:
    """Check a forward/backward pair from :mod:`scratchlstm.nn.functional`.

    The scalar used is ``L = sum(y * w)`` for a fixed random ``w`` of the output's shape (a random
    projection, so every output entry matters), whose upstream gradient is simply ``dy = w``.

    Parameters
    ----------
    forward : callable ``forward(*inputs) -> (y, cache)``
    backward : callable ``backward(dy, cache) -> tuple of gradients``, one per input, in order
        (use ``None`` in ``check`` positions to skip, e.g. integer ids)
    inputs : list of arrays (float64 for a meaningful check)
    names : names for the report (default ``x0, x1, ...``)
    check : positions of the inputs whose gradients to check (default: every float input)

    Returns
    -------
    GradcheckResult
    """
    rng = np.random.default_rng(seed)
    xp = get_array_module(*inputs)
    y, cache = forward(*inputs)
    w = xp.asarray(rng.standard_normal(y.shape)).astype(y.dtype)
    grads = backward(w, cache)
    if not isinstance(grads, tuple):
        grads = (grads,)
    names = list(names) if names is not None else [f"x{k}" for k in range(len(inputs))]
    if check is None:
        check = [k for k, a in enumerate(inputs) if a.dtype.kind == "f"]

    def loss():
        out, _ = forward(*inputs)
        return (out * w).sum()

    result = GradcheckResult()
    for k in check:
        idx = _sample_indices(inputs[k].size, max_checks, rng)
        num = numerical_gradient(loss, inputs[k], h=h, indices=idx)
        ana = grads[k]
        if idx is not None:
            ana = ana.reshape(-1)[idx]
            num = num.reshape(-1)[idx]
        result.errors[names[k]] = relative_error(ana, num)
    return result


def check_model(model, ids, targets, h: float = 1e-5, max_checks: int | None = None,
                seed: int = 0, state=None) -> GradcheckResult:
    """Check every parameter gradient of a language model against finite differences.

    The model must be in float64 (``model.to(dtype="float64")``). Dropout masks are made
    repeatable by re-seeding the model's dropout generator before every forward pass, so the
    function being differentiated is deterministic.

    Parameters
    ----------
    model : :class:`~scratchlstm.models.LSTMLanguageModel` (or any module with the same
        ``forward``/``backward``/``named_parameters`` API)
    ids, targets : (T, B) int arrays
    max_checks : int or None, how many entries to check per parameter (None: all)

    Returns
    -------
    GradcheckResult with one entry per named parameter
    """
    for name, p in model.named_parameters():
        if p.data.dtype != np.float64:
            raise TypeError(f"check_model needs a float64 model (parameter {name} is "
                            f"{p.data.dtype}); call model.to(dtype='float64') first")

    def loss():
        model.seed_dropout(seed)
        logits, _ = model(ids, state)
        value, _ = model.loss(logits, model.to_device_ids(targets))
        # AR/TAR (AWD-LSTM) add their gradient in backward: differentiate them too
        return float(value) + float(getattr(model, "regularisation_loss", lambda: 0.0)())

    model.zero_grad()
    model.seed_dropout(seed)
    logits, _ = model(ids, state)
    _, dlogits = model.loss(logits, model.to_device_ids(targets))
    model.backward(dlogits)

    rng = np.random.default_rng(seed)
    result = GradcheckResult()
    for name, p in model.named_parameters():
        idx = _sample_indices(p.data.size, max_checks, rng)
        num = numerical_gradient(loss, p.data, h=h, indices=idx)
        ana = p.grad
        if idx is not None:
            ana = ana.reshape(-1)[idx]
            num = num.reshape(-1)[idx]
        result.errors[name] = relative_error(ana, num)
    return result
