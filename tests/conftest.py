"""Shared fixtures: a seeded generator, the shared data folder, GPU availability, and the target
of the ladder (the library, or a student's workbook with ``--workbook DIR``).

Tests marked ``gpu`` run where CuPy sees a CUDA device: on a machine with a GPU, or through the
strict CuPy stand-in in ``tests/strict_cupy`` (``tests/test_16_strict_cupy.py`` runs them all that
way, in a subprocess with the stand-in first on ``PYTHONPATH``). Elsewhere they are skipped.
"""
import os
from pathlib import Path

import pytest

# The suite runs in two workers (setup.cfg): one BLAS thread each keeps them off each other's core.
# (Set before NumPy is imported; a value already in the environment wins.)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

# Every test chooses its device explicitly (the tests of $SCRATCHLSTM_DEVICE set it themselves):
# a value left in the shell would otherwise move every model of the suite to that device.
os.environ.pop("SCRATCHLSTM_DEVICE", None)

from scratchlstm.backend import gpu_available, np  # noqa: E402

STRICT_CUPY = Path(__file__).resolve().parent / "strict_cupy"


def strict_standin():
    """The stand-in's counters (``cupy.strict``) when ``import cupy`` found the stand-in, else None."""
    if not gpu_available():
        return None
    import cupy

    return cupy.strict if getattr(cupy, "__strict_standin__", False) else None


@pytest.fixture
def counts():
    """``counts.counting()`` of the strict CuPy stand-in; skips the test with real CuPy, which
    cannot count launches, syncs and copies."""
    strict = strict_standin()
    if strict is None:
        pytest.skip("needs the strict CuPy stand-in (tests/strict_cupy first on PYTHONPATH) to count")
    return strict


def pytest_addoption(parser):
    parser.addoption("--workbook", metavar="DIR", default=None,
                     help="grade a workbook (python -m scratchlstm workbook new DIR) instead of the "
                          "library: only the tests of workbook functions run")


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` when CuPy or a GPU is missing; with ``--workbook``, keep only the
    tests that exercise workbook functions (those that use the ``impl`` fixture)."""
    if config.getoption("--workbook"):
        kept = [item for item in items if "impl" in getattr(item, "fixturenames", ())]
        dropped = [item for item in items if item not in kept]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept
    if gpu_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CuPy and a CUDA GPU (pip install scratchlstm[gpu])")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def impl(request):
    """The functions under test, by name: ``impl.lstm_step_forward``. The library's reading track
    by default; with ``--workbook DIR`` the student's functions (a stub skips its tests)."""
    from scratchlstm.workbook.testing import GradedWorkbook, library_namespace

    path = request.config.getoption("--workbook")
    return GradedWorkbook(path) if path else library_namespace()


@pytest.fixture
def ladder(impl):
    """``ladder(name)``: climb the whole grading ladder for ``impl``'s function ``name``."""
    from scratchlstm.workbook.testing import run_ladder

    return lambda name: run_ladder(name, impl)


@pytest.fixture
def rng():
    """A seeded NumPy generator: every test sees the same 'random' numbers."""
    return np.random.default_rng(0)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def corpus_dir():
    """``corpus_dir(folder)``: the data folder holding the corpus sub-folder ``folder``
    ($SCRATCHLSTM_DATA first, then ../shared/data beside the repository), or skip the test with
    the reason when neither has it. The benchmark corpora are never part of the repository."""
    def find(folder: str) -> Path:
        env = os.environ.get("SCRATCHLSTM_DATA")
        for root in ([Path(env)] if env else []) + [SHARED_DATA]:
            if (root / folder).is_dir():
                return root
        pytest.skip(f"corpus folder {folder!r} not found under $SCRATCHLSTM_DATA or {SHARED_DATA}")
    return find


def cli_main(capsys, *args):
    """``cli.main(args)`` in this process: (exit code, stdout, stderr), argparse errors included."""
    from scratchlstm import cli  # noqa: PLC0415

    try:
        code = cli.main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


#: A small text and the options of a seconds-long CLI training run on it (the CLI test files).
CLI_TEXT = ("the cat sat on the mat. the dog sat on the log. " * 40
            + "a bird sang in the tree and the cat looked up. " * 20)
TINY_CLI = ["--tokenizer", "char", "--embed-dim", "8", "--hidden-dim", "16", "--layers", "1",
            "--batch-size", "4", "--bptt", "10", "--samples", "0"]


@pytest.fixture
def corpus(tmp_path):
    """CLI_TEXT, one sentence a line, as a text file."""
    path = tmp_path / "corpus.txt"
    path.write_text(CLI_TEXT.replace(". ", ".\n"))
    return path
