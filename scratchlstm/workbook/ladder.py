"""The grading ladder: what every workbook function is checked against, rung by rung.

For one function the ladder climbs

1. **values**: fixed small inputs (several shapes, float64 and float32) against the library's
   reading track; the outputs must have the right shape and dtype, be finite, and agree to a
   relative error of 1e-9 (1e-5 in float32), without changing the inputs;
2. **gradients** (backward passes): central differences of the forward pass in float64;
   **cache** (forward passes): the library's backward pass must accept the cache;
3. **integration**: the function inside the real thing (a model, an optimiser, the sampler, the
   tokenizer) must do what the library's does.

A failure says which output is wrong, by how much and where (which gate block, which time step),
and, when the wrong numbers are those of a known bug, what the bug probably is. The checks of one
function run with the library's versions of the functions it depends on (an ``lstm_forward`` is
graded with the library's ``lstm_step_forward``), so that one bug is reported once, where it is.

:mod:`scratchlstm.workbook.specs` says, for every function, what its rungs are.
"""
from __future__ import annotations

import math
import signal
import threading
import time
import traceback
import types
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from ..backend import np, to_host
from ..gradcheck import numerical_gradient, relative_error

GATES = "ifgo"
PASS, FAIL, SKIP, NOT_WRITTEN = "PASS", "FAIL", "skip", "not written yet"


# ----------------------------------------------------------------------------------------------
# Results
# ----------------------------------------------------------------------------------------------
@dataclass
class Rung:
    """The outcome of one level of the ladder."""

    level: str                              # "values", "gradients", "cache", "integration"
    status: str                             # PASS, FAIL or SKIP
    detail: str = ""                        # one line: the worst error, or why it was skipped
    problems: list[str] = field(default_factory=list)


@dataclass(repr=False)
class Result:
    """How one function did."""

    name: str
    status: str                             # PASS, FAIL, NOT_WRITTEN, or "missing"
    rungs: list[Rung] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    note: str = ""                          # for "missing"/"not written": why

    @property
    def passed(self) -> bool:
        return self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    def report(self, verbose: bool = False, width: int = 100) -> str:
        """The lines the grader prints for this function: one line when it passed (every rung
        when ``verbose``), every rung with its problems and hints when it failed."""
        if self.status in (NOT_WRITTEN, "missing"):
            return f"----  {self.name:<22} {self.note or self.status}"
        if self.passed and not verbose:
            summary = " | ".join(f"{r.level} {r.status.lower()}" for r in self.rungs)
            worst = self.rungs[0].detail.split("worst relative error ")[-1] if self.rungs else ""
            return f"PASS  {self.name:<22} {summary} (worst relative error {worst})"
        lines = [f"{self.status:<4}  {self.name}"]
        for rung in self.rungs:
            lines.append(f"        {rung.level:<12} {rung.status:<4}  {rung.detail}".rstrip())
            for problem in rung.problems:
                lines.extend(_wrapped(problem, " " * 26, width))
        for hint in self.hints:
            lines.extend(_wrapped("hint: " + hint, " " * 8, width, " " * 14))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report(verbose=True)

    def __repr__(self) -> str:
        return f"<Result {self.name}: {self.status}>"


def _wrapped(text: str, indent: str, width: int, rest: str | None = None) -> list[str]:
    import textwrap

    rest = indent if rest is None else rest
    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=rest) or [indent]


# ----------------------------------------------------------------------------------------------
# What a spec is made of
# ----------------------------------------------------------------------------------------------
@dataclass
class Case:
    """One set of fixed inputs. ``make()`` builds them afresh (ordered like the signature), so a
    function that changes its inputs cannot change them for the next call."""

    label: str
    make: Callable[[], dict]
    tol: float = 1e-9


@dataclass
class KnownBug:
    """A classic mistake: ``detect(case, got, want)`` says whether the outputs ``got`` look like
    it (``want`` are the library's outputs); ``hint`` is what the student is told."""

    hint: str
    detect: Callable


class Outputs(dict):
    """A function's outputs by name (a dict), plus the raw return value."""

    raw: object = None


@dataclass
class Spec:
    """Everything the ladder needs to know about one workbook function.

    ``call(fn, inputs)`` runs a function on a case's inputs and returns its outputs by name (the
    default calls ``fn(*inputs.values())`` and names the returned values by ``outputs``).
    ``compare`` names the outputs whose values are checked (default: all but ``"cache"``);
    ``axes`` gives, per output, the meaning of its axes ("time", "gates", ...) to say where an
    error sits. ``changes`` names the inputs the function is meant to change in place.
    """

    name: str
    cases: Callable[[], list]
    outputs: tuple = ()
    call: Callable | None = None
    compare: tuple | None = None
    axes: dict = field(default_factory=dict)
    changes: tuple = ()
    gradients: Callable | None = None       # (fn, ref, cases) -> Rung
    cache: Callable | None = None           # (fn, ref, cases) -> Rung
    integration: Callable | None = None     # (fn) -> Rung
    bugs: tuple = ()
    depends_on: tuple = ()

    def run(self, fn, inputs) -> Outputs:
        if self.call is not None:
            out = self.call(fn, inputs)
            result = Outputs(out)
            result.raw = out
            return result
        raw = fn(*inputs.values())
        return name_outputs(raw, self.outputs)

    def compared(self) -> tuple:
        return self.compare if self.compare is not None else tuple(o for o in self.outputs
                                                                    if o != "cache")


class WrongArity(ValueError):
    """The function returned another number of values than the library's."""


def name_outputs(raw, names) -> Outputs:
    """Name the returned values: one name takes the value itself, several unpack a tuple."""
    if len(names) == 1:
        out = Outputs({names[0]: raw})
    else:
        if not isinstance(raw, tuple) or len(raw) != len(names):
            n = len(raw) if isinstance(raw, tuple) else 1
            raise WrongArity(f"returned {n} value{'s' * (n != 1)}, expected {len(names)}: "
                             f"({', '.join(names)})")
        out = Outputs(zip(names, raw))
    out.raw = raw
    return out


# ----------------------------------------------------------------------------------------------
# Running a student's function safely
# ----------------------------------------------------------------------------------------------
class NotWritten(Exception):
    """The function raised NotImplementedError: it is still a stub."""


class StudentError(Exception):
    """The student's function raised; the message says what and on which line of hers."""


class TimeLimit(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    """Stop a call that runs longer than ``seconds`` (an endless loop): SIGALRM in the main
    thread on POSIX; elsewhere no limit."""
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimit(f"did not finish within {seconds:.0f} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_LIBRARY = str(__import__("pathlib").Path(__file__).resolve().parents[1])


def _student_frame(exc) -> str:
    """' (lstm.py, line 57: da = ...)': the deepest frame outside the library (the student's
    file or notebook cell; where her code called into NumPy or the library)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if not f.filename.startswith(_LIBRARY)
            and "site-packages" not in f.filename and "/lib/python" not in f.filename] or frames[-1:]
    if not mine:
        return ""
    f = mine[-1]
    name = f.filename.replace("\\", "/").rsplit("/", 1)[-1]
    line = f" {f.line.strip()}" if f.line else ""
    return f" ({name}, line {f.lineno}:{line})" if line else f" ({name}, line {f.lineno})"


def guarded(fn, *args, seconds: float = 30.0):
    """``fn(*args)``, turning NotImplementedError into :class:`NotWritten` and any other
    exception into a :class:`StudentError` that names the line."""
    try:
        # NumPy's warnings (overflow in exp, ...) would interleave with the report; what they
        # warn of shows up there anyway, as NaN or inf in an output.
        with time_limit(seconds), np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args)
    except NotImplementedError as exc:
        raise NotWritten(str(exc)) from None
    except TimeLimit as exc:
        raise StudentError(str(exc)) from None
    except (NotWritten, StudentError):
        raise
    except Exception as exc:  # whatever the student's code raised: report it, never a traceback
        raise StudentError(f"raised {type(exc).__name__}: {exc}{_student_frame(exc)}") from None


def with_globals(fn, **names):
    """A copy of the function ``fn`` that sees ``names`` in place of its module's globals.

    This is how the grader hands a student's ``lstm_forward`` the library's
    ``lstm_step_forward`` (and the library's ``lstm_backward`` a student's step): the function's
    code is unchanged, only the global names it looks up are replaced.
    """
    if not isinstance(fn, types.FunctionType):
        return fn
    env = dict(fn.__globals__)
    env.update(names)
    copy = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    copy.__doc__, copy.__wrapped__ = fn.__doc__, fn
    return copy


# ----------------------------------------------------------------------------------------------
# Comparing outputs
# ----------------------------------------------------------------------------------------------
def _as_array(value):
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return to_host(value)
    return None


def _slices(err, axis_names, want):
    """Where along the 'time' and 'gates' axes an error sits (a few words), or ''."""
    notes = []
    for axis, meaning in enumerate(axis_names):
        if axis >= err.ndim:
            break
        if meaning == "time" and err.shape[axis] > 1:
            size = err.shape[axis]
            bad = [t for t in range(size) if _part_error(err, want, axis, slice(t, t + 1)) > 1e-7]
            if bad and len(bad) < size:
                good = [t for t in range(size) if t not in bad]
                notes.append(f"wrong at time steps t = {_ranges(bad)}, right at t = {_ranges(good)}")
            elif bad:
                notes.append(f"wrong at every time step t = 0..{size - 1}")
        if meaning == "gates" and err.shape[axis] % 4 == 0:
            H = err.shape[axis] // 4
            bad = [GATES[k] for k in range(4)
                   if _part_error(err, want, axis, slice(k * H, (k + 1) * H)) > 1e-7]
            if bad and len(bad) < 4:
                good = [g for g in GATES if g not in bad]
                notes.append(f"wrong in gate block{'s' * (len(bad) > 1)} {', '.join(bad)} "
                             f"(right in {', '.join(good)})")
            elif bad:
                notes.append("wrong in all four gate blocks")
    return "; ".join(notes)


def _part_error(err, want, axis, part):
    index = [slice(None)] * err.ndim
    index[axis] = part
    e, w = err[tuple(index)], want[tuple(index)]
    return float(np.linalg.norm(e)) / max(float(np.linalg.norm(w)), 1e-300)


def _ranges(ts):
    out, start = [], None
    for k, t in enumerate(ts):
        if start is None:
            start = t
        if k + 1 == len(ts) or ts[k + 1] != t + 1:
            out.append(f"{start}" if start == t else f"{start}..{t}")
            start = None
    return ", ".join(out)


def compare_value(name, got, want, tol, axes=()) -> str | None:
    """None when ``got`` matches ``want``; else a sentence saying what is wrong and where."""
    if want is None:
        return None if got is None else f"{name} should be None, got {type(got).__name__}"
    w = _as_array(want)
    if w is None:                                   # lists, ints, tuples, dicts: exact
        if isinstance(want, float) or isinstance(got, float):
            try:
                g = float(got)
            except (TypeError, ValueError):
                return f"{name} should be a number, got {type(got).__name__}"
            if not math.isfinite(g):
                return f"{name} is {g}"
            err = abs(g - want) / max(abs(want), 1e-300)
            return None if err < tol else f"{name} is {g:.6g}, expected {want:.6g} (relative error {err:.1e})"
        if _normalise(got) == _normalise(want):
            return None
        return f"{name} is {_short(got)}, expected {_short(want)}"
    g = _as_array(got)
    if g is None:
        return f"{name} should be an array of shape {w.shape}, got {type(got).__name__} {_short(got)}"
    if g.shape != w.shape:
        return f"{name} has shape {g.shape}, expected {w.shape}"
    if w.dtype.kind == "f" and g.dtype != w.dtype:
        return (f"{name} has dtype {g.dtype}, expected {w.dtype} (float32 in, float32 out: a "
                "np.zeros/np.empty without dtype= is float64)")
    if w.dtype.kind in "iub":
        if not np.array_equal(g, w):
            k = int(np.flatnonzero(g.reshape(-1) != w.reshape(-1))[0])
            return f"{name} differs at index {np.unravel_index(k, w.shape)}: {g.reshape(-1)[k]} vs {w.reshape(-1)[k]}"
        return None
    if not np.all(np.isfinite(g)):
        return f"{name} contains NaN or inf (an overflow in exp? a division by zero?)"
    g64, w64 = g.astype(np.float64), w.astype(np.float64)
    err = relative_error(g64, w64)
    if err < tol:
        return None
    diff = np.abs(g64 - w64)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    where = _slices(g64 - w64, axes, w64)
    where = f"; {where}" if where else ""
    index = f" (worst entry {tuple(int(k) for k in worst)}: {g64[worst]:.6g} vs {w64[worst]:.6g})" if diff.ndim else ""
    return f"{name}: relative error {err:.1e}{where}{index}"


def _normalise(value):
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _short(value, n: int = 60) -> str:
    text = repr(_normalise(value))
    return text if len(text) <= n else text[:n - 3] + "..."


def output_errors(names, got, want, tol: float, axes=None) -> list[str]:
    """What is wrong with the outputs ``names`` of ``got`` against ``want`` (empty: nothing)."""
    problems = []
    for name in names:
        message = compare_value(name, got.get(name), want.get(name), tol, (axes or {}).get(name, ()))
        if message:
            problems.append(message)
    return problems


def worst_error(spec: Spec, got: Outputs, want: Outputs) -> float:
    worst = 0.0
    for name in spec.compared():
        g, w = _as_array(got.get(name)), _as_array(want.get(name))
        if g is not None and w is not None and g.shape == w.shape and w.dtype.kind == "f":
            worst = max(worst, relative_error(g.astype(np.float64), w.astype(np.float64)))
    return worst


def close(got, want, names, tol: float = 1e-7) -> bool:
    """Do the outputs ``names`` of ``got`` equal those of ``want`` to ``tol``?"""
    for name in names:
        if compare_value(name, got.get(name), want.get(name), tol) is not None:
            return False
    return True


def changed_inputs(before: dict, after: dict, allowed=()) -> list[str]:
    """Names of inputs (arrays, or arrays inside a cache tuple) that a call changed in place."""
    changed = []
    for name, value in after.items():
        if name in allowed:
            continue
        old = before[name]
        pairs = (list(zip(old, value)) if isinstance(value, tuple) and isinstance(old, tuple)
                 else [(old, value)])
        for a, b in pairs:
            a_arr, b_arr = _as_array(a), _as_array(b)
            if a_arr is not None and b_arr is not None and a_arr.shape == b_arr.shape \
                    and not np.array_equal(a_arr, b_arr, equal_nan=True):
                changed.append(name)
                break
    return changed


# ----------------------------------------------------------------------------------------------
# Climbing the ladder
# ----------------------------------------------------------------------------------------------
def climb(spec: Spec, fn, reference) -> Result:
    """Grade ``fn`` against ``reference`` on every rung of ``spec``."""
    result = Result(spec.name, PASS)
    try:
        values = _values_rung(spec, fn, reference, result)
    except NotWritten as exc:
        return Result(spec.name, NOT_WRITTEN, note=_not_written_note(exc))
    result.rungs.append(values)
    for level, check in (("gradients", spec.gradients), ("cache", spec.cache)):
        if check is not None:
            result.rungs.append(_guarded_rung(level, check, fn, reference, spec))
    if spec.integration is not None:
        if any(r.status == FAIL for r in result.rungs):
            result.rungs.append(Rung("integration", SKIP, "not run: fix the failures above first"))
        else:
            result.rungs.append(_guarded_rung("integration", lambda f, r, s: spec.integration(f),
                                              fn, reference, spec))
    if any(r.status == FAIL for r in result.rungs):
        result.status = FAIL
    result.hints = list(dict.fromkeys(result.hints))     # each hint once, in order
    return result


def _not_written_note(exc) -> str:
    text = str(exc)
    return "not written yet" if "not written" in text or not text else f"not written yet ({text})"


def _guarded_rung(level, check, fn, reference, spec) -> Rung:
    try:
        return check(fn, reference, spec)
    except NotWritten:
        return Rung(level, SKIP, "needs a function that is not written yet")
    except StudentError as exc:
        return Rung(level, FAIL, str(exc))


def _values_rung(spec: Spec, fn, reference, result: Result) -> Rung:
    problems, worst, cases = [], 0.0, spec.cases()
    for case in cases:
        inputs = case.make()
        try:
            got = guarded(spec.run, fn, inputs)
        except StudentError as exc:
            problems.append(f"case {case.label}: {exc}")
            continue
        except WrongArity as exc:
            problems.append(f"case {case.label}: {exc}")
            continue
        pristine = case.make()
        want = spec.run(reference, case.make())
        errors = output_errors(spec.compared(), got, want, case.tol, spec.axes)
        mutated = changed_inputs(pristine, inputs, allowed=spec.changes)
        if mutated:
            errors.append(f"changed its input{'s' * (len(mutated) > 1)} {', '.join(mutated)} "
                          "in place (compute new arrays instead: the caller still needs them)")
        if errors:
            problems.extend(f"case {case.label}: {e}" for e in errors)
            result.hints.extend(bug.hint for bug in spec.bugs if _detects(bug, case, got, want))
        else:
            worst = max(worst, worst_error(spec, got, want))
    if problems:
        return Rung("values", FAIL, f"{len(problems)} problem{'s' * (len(problems) > 1)} in "
                    f"{len(cases)} cases", first_problems(problems))
    return Rung("values", PASS, f"{len(cases)} cases, worst relative error {worst:.1e}")


def first_problems(problems, n: int = 4) -> list[str]:
    """The first ``n`` problems, and how many more there are."""
    return problems[:n] + ([f"... and {len(problems) - n} more"] if len(problems) > n else [])


def _detects(bug: KnownBug, case, got, want) -> bool:
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bool(bug.detect(case, got, want))
    except Exception:               # a detector must never turn a report into a traceback
        return False


# ----------------------------------------------------------------------------------------------
# Building blocks for the rungs of specs
# ----------------------------------------------------------------------------------------------
def mutant(buggy, names, tol: float = 1e-7):
    """A detector: the student's outputs ``names`` equal those of ``buggy(**inputs)``, a version
    of the function with the bug in it (returning what the function returns)."""
    def detect(case, got, want):
        raw = buggy(**case.make())
        expected = raw if isinstance(raw, dict) else name_outputs(raw, tuple(want))
        return close(got, expected, names, tol)
    return detect


def any_of(*detectors):
    """A detector that fires when any of ``detectors`` does (variants of one bug)."""
    return lambda case, got, want: any(d(case, got, want) for d in detectors)


def gradient_rung(fn, forward, cases, wrt, run_backward, max_checks: int = 40) -> Rung:
    """Central differences of ``forward`` against the gradients ``fn`` returns.

    Parameters
    ----------
    forward : the library's forward pass, ``forward(*inputs) -> (outputs..., cache)``
    cases : list of Case whose ``make()`` returns ``{"inputs": dict, "upstream": list}``; the
        loss is ``sum_k sum(upstream[k] * outputs[k])``
    wrt : dict input name -> name of the gradient among ``run_backward``'s outputs
    run_backward : ``(fn, upstream, cache) -> dict`` of gradients by name
    """
    problems, worst = [], 0.0
    for case in cases:
        made = case.make()
        inputs, upstream = made["inputs"], made["upstream"]
        *_, cache = forward(*inputs.values())
        grads = guarded(run_backward, fn, upstream, cache)

        def loss():
            outputs = forward(*inputs.values())[:-1]
            return sum(float((to_host(u) * to_host(o)).sum()) for u, o in zip(upstream, _flatten(outputs)))

        rng = np.random.default_rng(7)
        for input_name, grad_name in wrt.items():
            x = inputs[input_name]
            idx = rng.choice(x.size, size=max_checks, replace=False) if x.size > max_checks else None
            numeric = numerical_gradient(loss, x, h=1e-6, indices=idx)
            worst = max(worst, against_differences(case.label, grad_name, grads.get(grad_name),
                                                   numeric, problems, idx))
    return gradient_verdict(problems, worst)


def against_differences(label: str, name: str, analytic, numeric, problems: list, idx=None) -> float:
    """Compare an analytic gradient with central differences (at the flat indices ``idx``, or
    everywhere); a disagreement or a wrong shape is appended to ``problems``. Returns the relative
    error (0 for a wrong shape)."""
    a = _as_array(analytic)
    if a is None or a.shape != numeric.shape:
        problems.append(f"case {label}: {name} has shape {getattr(analytic, 'shape', None)}, "
                        f"expected {numeric.shape}")
        return 0.0
    if idx is not None:
        a, numeric = a.reshape(-1)[idx], numeric.reshape(-1)[idx]
    err = relative_error(a, numeric)
    if not err < 1e-6:
        problems.append(f"case {label}: {name} against central differences: relative error {err:.1e}")
    return err


def gradient_verdict(problems: list, worst: float,
                     failing: str = "the gradients do not match central differences") -> Rung:
    """The gradients rung from what :func:`against_differences` found."""
    if problems:
        return Rung("gradients", FAIL, failing, first_problems(problems))
    return Rung("gradients", PASS, f"central differences agree, worst relative error {worst:.1e}")


def _flatten(outputs):
    flat = []
    for o in outputs:
        if isinstance(o, tuple):
            flat.extend(o)
        else:
            flat.append(o)
    return flat


def timed(seconds: float) -> str:
    return f"{seconds:.1f} s"


def now() -> float:
    return time.perf_counter()
