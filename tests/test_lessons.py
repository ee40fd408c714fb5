"""Every lesson notebook runs top to bottom without an error (the lessons never rot)."""
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs(path):
    """Does the lesson still run against the current library? Any cell error fails the test."""
    import sys

    sys.path.insert(0, str(LESSONS))
    from execute import execute

    nb, seconds = execute(path, write=False)
    assert seconds < 180, f"{path.name} took {seconds:.0f} s; lessons should stay under ~90 s"
