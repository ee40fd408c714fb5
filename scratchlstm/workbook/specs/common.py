"""Helpers shared by the specs: seeded inputs, backward-pass cases, cache checks."""
from __future__ import annotations

from ...backend import np
from ..ladder import FAIL, PASS, Case, Rung, gradient_rung, guarded, output_errors


def randn(seed: int, *shapes, scale: float = 1.0, dtype=np.float64):
    """Standard-normal arrays of the given shapes from one seeded generator."""
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal(s) * scale).astype(dtype) for s in shapes]
    return arrays[0] if len(arrays) == 1 else arrays


def backward_cases(forward, make_inputs, make_upstream, labels, call_inputs):
    """Cases for a backward pass, in two forms from the same numbers.

    Parameters
    ----------
    forward : the library's forward pass, ``forward(*inputs) -> (outputs..., cache)``
    make_inputs : ``(k) -> dict`` the forward inputs of case k (signature order)
    make_upstream : ``(k, outputs) -> list`` the upstream gradients, one per forward output
    labels : list of case labels (their number is the number of cases)
    call_inputs : ``(upstream, cache) -> dict`` the backward pass's inputs, in signature order

    Returns
    -------
    values_cases, gradient_cases : lists of Case (``make()`` of a gradient case returns
        ``{"inputs", "upstream"}``)
    """
    def outputs_of(result):
        flat = []
        for o in result[:-1]:
            flat.extend(o if isinstance(o, tuple) else (o,))
        return flat

    def values(k):
        def make():
            inputs = make_inputs(k)
            result = forward(*inputs.values())
            return call_inputs(make_upstream(k, outputs_of(result)), result[-1])
        return make

    def gradients(k):
        def make():
            inputs = make_inputs(k)
            return {"inputs": inputs, "upstream": make_upstream(k, outputs_of(forward(*inputs.values())))}
        return make

    tol = [1e-5 if "float32" in label else 1e-9 for label in labels]
    return ([Case(label, values(k), tol[k]) for k, label in enumerate(labels)],
            [Case(label, gradients(k)) for k, label in enumerate(labels) if "float32" not in label])


def cache_rung(forward_cases, backward, make_upstream, call_backward, what: str,
               outputs=None, cache_name: str = "cache"):
    """Does the library's backward pass accept the student's cache, and give its gradients?

    ``forward_cases`` are the forward spec's cases; ``make_upstream(k, outputs)`` builds upstream
    gradients for case k from the forward outputs named ``outputs`` (default: the compared
    ones); ``call_backward(backward, upstream, cache) -> dict``; the cache is the output named
    ``cache_name``.
    """
    def rung(fn, reference, spec):
        problems = []
        for k, case in enumerate(forward_cases()):
            if "float32" in case.label:
                continue
            got = guarded(spec.run, fn, case.make())
            want = spec.run(reference, case.make())
            flat = []
            for o in (got[name] for name in (outputs or spec.compared())):
                flat.extend(o if isinstance(o, tuple) else (o,))
            upstream = make_upstream(k, flat)
            try:
                mine = call_backward(backward, upstream, got[cache_name])
            except Exception as exc:
                problems.append(f"case {case.label}: the library's {what} cannot read your cache "
                                f"({type(exc).__name__}: {exc}); return the named tuple the "
                                "docstring describes")
                continue
            theirs = call_backward(backward, upstream, want[cache_name])
            errors = output_errors(tuple(theirs), mine, theirs, case.tol)
            problems.extend(f"case {case.label}: with your cache the library's {what} gets {e}"
                            for e in errors)
        if problems:
            return Rung("cache", FAIL, "your cache does not carry what the backward pass needs",
                        problems[:4])
        return Rung("cache", PASS, f"the library's {what} reads your cache")
    return rung


def gradients(forward, gradient_cases, wrt, run_backward):
    """A gradient rung for a spec (see :func:`~scratchlstm.workbook.ladder.gradient_rung`)."""
    return lambda fn, reference, spec: gradient_rung(fn, forward, gradient_cases, wrt, run_backward)
