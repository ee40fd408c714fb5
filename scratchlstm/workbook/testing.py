"""What ``python -m pytest tests/ --workbook DIR`` needs: the functions under test, by name.

The numbered tests ask a fixture ``impl`` for the functions they exercise (``impl.lstm_forward``).
By default ``impl`` is the library's reading track; with ``--workbook DIR`` it is the student's
workbook, each function graded with the library's versions of what it depends on, and a function
that is still a stub skips its tests ("not written yet") instead of failing them.
"""
from __future__ import annotations

from types import SimpleNamespace

from .catalogue import FUNCTIONS, reference
from .ladder import NOT_WRITTEN, climb
from .loader import load_workbook
from .specs import SPECS


def library_namespace() -> SimpleNamespace:
    """The library's reading-track function for every workbook name."""
    return SimpleNamespace(**{name: reference(name) for name in FUNCTIONS}, raw=reference,
                           label="the library")


class GradedWorkbook:
    """A workbook seen through pytest: stubs and missing functions skip, never error."""

    def __init__(self, path):
        self.workbook = load_workbook(path)
        self.label = f"the workbook {path}"

    def raw(self, name: str):
        """The student's function as written (pytest-skips when it is missing)."""
        import pytest  # noqa: PLC0415 - only ever used under pytest

        missing = self.workbook.missing(name)
        if missing:
            pytest.skip(missing)
        return self.workbook.functions[name]

    def __getattr__(self, name):
        if name not in FUNCTIONS:
            raise AttributeError(name)
        import pytest  # noqa: PLC0415
        from . import isolated  # noqa: PLC0415

        fn = isolated(name, self.raw(name))

        def call(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except NotImplementedError:
                pytest.skip(f"{name} is not written yet")
        call.__name__ = name
        return call


def run_ladder(name: str, impl) -> None:
    """Grade ``impl``'s function ``name`` on the whole ladder; a pytest failure shows the report."""
    import pytest  # noqa: PLC0415
    from . import isolated  # noqa: PLC0415

    result = climb(SPECS[name], isolated(name, impl.raw(name)), reference(name))
    if result.status == NOT_WRITTEN:
        pytest.skip(f"{name} is not written yet")
    assert result.passed, f"{name} on {impl.label}:\n" + result.report(verbose=True)
