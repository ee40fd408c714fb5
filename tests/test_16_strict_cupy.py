"""CI without a GPU: every ``gpu``-marked test, through the strict CuPy stand-in.

The stand-in (``tests/strict_cupy``) provides importable ``cupy`` and ``cupyx`` packages over
NumPy that raise where CuPy raises and count launches, syncs, copies and generators (its
docstring says what it cannot show). Putting it first on ``PYTHONPATH`` in a subprocess is all it
takes: ``scratchlstm.backend`` imports ``cupy`` as always, sees one CUDA device, and every test
marked ``gpu`` runs, on device ``cuda``, through the library's real GPU code path. This includes
the budgets of tests/test_16_gpu_budgets.py and the training, evaluation, generation, checkpoint
and server steps of tests/test_16_gpu_paths.py.

On a machine with a GPU the same tests also run directly on real CuPy in the main test run.
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STRICT_CUPY = REPO / "tests" / "strict_cupy"


def standin_env(**extra) -> dict:
    """The environment of a subprocess that imports the stand-in as ``cupy``."""
    env = dict(os.environ)
    env.pop("SCRATCHLSTM_DEVICE", None)
    paths = [str(STRICT_CUPY), str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.update(extra)
    return env


def test_the_standin_is_what_import_cupy_finds_in_the_subprocess():
    """The subprocess sees the stand-in, and the library sees a GPU through it."""
    code = ("import cupy, scratchlstm.backend as b; "
            "print(cupy.__strict_standin__, b.gpu_available(), b.resolve_device('auto'))")
    out = subprocess.run([sys.executable, "-c", code], env=standin_env(), cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True", "cuda"]


@pytest.mark.slow
def test_every_gpu_test_passes_through_the_strict_standin(tmp_path):
    """``pytest -m gpu`` with the stand-in: every gpu test runs (none skipped) and passes."""
    report = tmp_path / "gpu.xml"
    cmd = [sys.executable, "-m", "pytest", "-q", "-n", "0", "-m", "gpu", "-p", "no:cacheprovider",
           f"--junitxml={report}", "tests"]
    run = subprocess.run(cmd, env=standin_env(), cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    cases = ET.parse(report).getroot().iter("testcase")
    outcome = {}
    for case in cases:
        name = f"{case.get('classname')}::{case.get('name')}"
        outcome[name] = ("skipped" if case.find("skipped") is not None else
                         "failed" if case.find("failure") is not None or case.find("error") is not None
                         else "passed")
    assert outcome and all(v == "passed" for v in outcome.values()), \
        {k: v for k, v in outcome.items() if v != "passed"}
    files = {name.split("::")[0].rsplit(".", 1)[-1] for name in outcome}
    assert {"test_11_gpu_parity", "test_11_gpu_exercises", "test_16_gpu_budgets",
            "test_16_gpu_paths"} <= files
    assert len(outcome) >= 25


@pytest.mark.slow
def test_gpu_check_script_runs_end_to_end_through_the_standin(tmp_path):
    """benchmarks/gpu_check.sh, in its tiny configuration, through the stand-in: every part runs
    or says why it was skipped (no nvidia-smi, no torch CUDA), and each writes its result file."""
    out = tmp_path / "gpu_check"
    run = subprocess.run(["bash", "benchmarks/gpu_check.sh"], cwd=REPO, capture_output=True, text=True,
                         env=standin_env(OUT=str(out), GPU_CHECK_TINY="1"), timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    summary = (out / "summary.md").read_text()
    for part in ("gpu tests", "parity", "small operations", "bench_lstm", "train_covid"):
        assert part in summary, summary
    assert "FAILED" not in summary, summary
    assert "strict CuPy stand-in" in summary
    for name in ("gpu_tests.log", "parity.json", "small_ops.json", "train_covid.log"):
        assert (out / name).is_file(), name
