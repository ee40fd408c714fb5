"""Run lesson notebooks top to bottom and store their outputs (figures included) in place.

    python lessons/execute.py                     # every lesson, outputs written back
    python lessons/execute.py lessons/05_*.ipynb  # some lessons
    python lessons/execute.py --check             # run every lesson, write nothing

The test suite runs the same function without writing (tests/test_lessons.py), so a lesson that
no longer runs fails the tests. Notebooks run with the repository on the Python path and the
working directory set to lessons/, on the CPU unless SCRATCHLSTM_DEVICE says otherwise, with one
BLAS thread unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise.

A written notebook keeps only what the lesson computed: the volatile metadata of a run (the
execution timestamps of every cell, the chunks in which printed text arrived) is stripped, and a
file whose content did not change is not rewritten, so re-running a lesson changes its file only
where an output changed (a timing, for instance).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

LESSONS = Path(__file__).resolve().parent
REPO = LESSONS.parent

#: cell metadata written by a run rather than by an author (timestamps of each execution)
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


def lesson_paths() -> list[Path]:
    """Every lesson notebook, in order (``NN_name.ipynb``)."""
    return sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))


def coalesce_streams(outputs: list) -> list:
    """Join consecutive stream outputs of the same stream (stdout, stderr) into one.

    How a cell's printed text is cut into messages depends on when the kernel flushed it, which
    varies from run to run; joined, the same text is stored the same way every time.
    """
    joined: list = []
    for out in outputs:
        previous = joined[-1] if joined else None
        if (out.get("output_type") == "stream" and previous is not None
                and previous.get("output_type") == "stream" and previous.get("name") == out.get("name")):
            previous["text"] = _text(previous["text"]) + _text(out["text"])
        else:
            joined.append(out)
    return joined


def _text(text) -> str:
    return text if isinstance(text, str) else "".join(text)


def strip_volatile(nb) -> None:
    """Remove what changes from run to run without being a result: cell timestamps, the
    notebook-level record of the interpreter's patch version, and the cutting of printed text
    into messages. Modifies ``nb`` in place."""
    for cell in nb.cells:
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = coalesce_streams(cell.outputs)
    nb.metadata.get("language_info", {}).pop("version", None)


def execute(path, timeout: int = 600, write: bool = True):
    """Execute one notebook; returns (notebook, seconds). Raises on the first failing cell.

    With ``write=True`` the executed notebook (volatile metadata stripped) replaces the file, but
    only if its text differs from what is there.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + env_path if env_path else "")
    # One BLAS thread per kernel: the lessons' matrices are small, and on a busy 2-core machine
    # spinning BLAS threads make them many times slower. Set the variables to override.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(LESSONS)}})
    client.execute()
    seconds = time.perf_counter() - start
    strip_volatile(nb)
    if write:
        text = nbformat.writes(nb)
        text += "" if text.endswith("\n") else "\n"        # as nbformat.write ends a file
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return nb, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="notebooks to run (default: every lesson)")
    parser.add_argument("--check", action="store_true",
                        help="execute the notebooks without writing them back; exit 1 if one fails")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or lesson_paths()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    failed = []
    for path in paths:
        try:
            _, seconds = execute(path, write=not args.check)
        except Exception as exc:          # a failing cell: report it, go on with the others
            failed.append(path.name)
            print(f"{path.name}: FAILED ({type(exc).__name__}: {str(exc).strip().splitlines()[-1]})")
            continue
        print(f"{path.name}: {seconds:.1f} s" + (" (checked, not written)" if args.check else ""))
    if failed:
        print(f"{len(failed)} of {len(paths)} failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
