"""The student's workbook: write the LSTM yourself, and have every piece graded.

>>> new_workbook("my_lstm")                 # stubs of the reading track, one file per topic
>>> grade("my_lstm")                        # the ladder for every function written so far
>>> check("lstm_step_backward", my_fn)      # one function, e.g. from a notebook cell

From the command line: ``python -m scratchlstm workbook new DIR`` and ``python -m scratchlstm
workbook check DIR [--only NAME ...]``; as tests: ``python -m pytest tests/ --workbook DIR``.
The solutions are the library's reading track (:mod:`scratchlstm.nn.functional` and friends);
a model runs a workbook with ``LSTMLanguageModel(..., functional=DIR)``.
"""
from __future__ import annotations

import difflib

from .catalogue import FUNCTIONS, TOPIC_OF, TOPICS, reference
from .ladder import FAIL, NOT_WRITTEN, PASS, Result, Rung, climb, with_globals
from .loader import Workbook, WorkbookError, load_workbook
from .specs import SPECS
from .stubs import new_workbook

__all__ = ["FUNCTIONS", "TOPICS", "Result", "Workbook", "WorkbookError", "check", "grade",
           "load_workbook", "new_workbook", "isolated", "unknown_names"]


def isolated(name: str, fn):
    """``fn`` with the library's versions of the workbook functions it depends on (for example
    the library's ``lstm_step_forward`` inside a student's ``lstm_forward``), so that its grade is
    about ``fn`` alone."""
    deps = {dep: reference(dep) for dep in SPECS[name].depends_on}
    return with_globals(fn, **deps) if deps else fn


def unknown_names(names) -> list[str]:
    """The names that are not workbook functions, each with the closest valid name if any."""
    out = []
    for name in names:
        if name not in SPECS:
            close = difflib.get_close_matches(name, FUNCTIONS, n=1)
            out.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return out


def check(name: str, fn=None, quiet: bool = False) -> Result:
    """Grade one function and print its ladder.

    Parameters
    ----------
    name : a workbook function's name, e.g. ``"lstm_step_backward"``
    fn : your function (a stub that raises NotImplementedError is reported as not written);
        None grades the library's own
    quiet : do not print

    Returns
    -------
    Result (``.passed``, ``.report()``)
    """
    if name not in SPECS:
        raise ValueError(f"no workbook function {unknown_names([name])[0]}; the functions are "
                         f"{', '.join(FUNCTIONS)}")
    result = climb(SPECS[name], isolated(name, fn if fn is not None else reference(name)),
                   reference(name))
    if not quiet:
        print(result.report(verbose=True))
    return result


def grade(target, only=None, progress=None) -> list[Result]:
    """Grade a workbook.

    Parameters
    ----------
    target : a workbook folder, or a :class:`Workbook`
    only : names of the functions to grade (default: all)
    progress : callable receiving each Result as it is ready (e.g. to print it)

    Returns
    -------
    list of Result, in workbook order
    """
    workbook = target if isinstance(target, Workbook) else load_workbook(target)
    names = list(only) if only else list(FUNCTIONS)
    bad = unknown_names(names)
    if bad:
        raise ValueError(f"unknown workbook function{'s' * (len(bad) > 1)}: {', '.join(bad)}")
    results = []
    for name in names:
        missing = workbook.missing(name)
        if missing and TOPIC_OF[name] in workbook.broken:
            result = Result(name, FAIL, rungs=[Rung("import", FAIL, missing)])
        elif missing:
            result = Result(name, "missing", note=missing)
        else:
            result = climb(SPECS[name], isolated(name, workbook.functions[name]), reference(name))
        results.append(result)
        if progress is not None:
            progress(result)
    return results
