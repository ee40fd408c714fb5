"""Run lesson notebooks top to bottom and store their outputs (figures included) in place.

    python lessons/execute.py                 # every lesson
    python lessons/execute.py lessons/05_*.ipynb

The test suite runs the same function without writing (tests/test_lessons.py), so a lesson that
no longer runs fails the tests. Notebooks run with the repository on the Python path and the
working directory set to lessons/, on the CPU unless SCRATCHLSTM_DEVICE says otherwise, with one
BLAS thread unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

LESSONS = Path(__file__).resolve().parent
REPO = LESSONS.parent


def execute(path, timeout: int = 600, write: bool = True):
    """Execute one notebook; returns (notebook, seconds). Raises on the first failing cell."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + env_path if env_path else "")
    # One BLAS thread per kernel: the lessons' matrices are small, and on a busy 2-core machine
    # spinning BLAS threads make them many times slower. Set the variables to override.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(LESSONS)}})
    client.execute()
    seconds = time.perf_counter() - start
    if write:
        nbformat.write(nb, path)
    return nb, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every lesson)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        _, seconds = execute(path)
        print(f"{path.name}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
