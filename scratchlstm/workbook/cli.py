"""``python -m scratchlstm workbook new DIR`` and ``python -m scratchlstm workbook check DIR``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXAMPLES = """examples:
  python -m scratchlstm workbook new my_lstm
  python -m scratchlstm workbook check my_lstm
  python -m scratchlstm workbook check my_lstm --only lstm_step_forward lstm_step_backward
"""


def add_parser(sub) -> None:
    """Add the ``workbook`` command to the CLI's subparsers."""
    w = sub.add_parser("workbook", help="write the LSTM yourself: stubs to fill in, and their grader",
                       description="A workbook is a folder of stub files mirroring the library's "
                                   "reading track. Write the functions, then let `check` grade "
                                   "them: fixed inputs, central differences, then your function "
                                   "inside a real model.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = w.add_subparsers(dest="workbook_command", metavar="ACTION")
    new = actions.add_parser("new", help="write a fresh workbook into DIR")
    new.add_argument("dir", metavar="DIR")
    new.add_argument("--overwrite", action="store_true",
                     help="replace workbook files already in DIR (your work in them is lost)")
    check = actions.add_parser("check", help="grade the functions written so far in DIR")
    check.add_argument("dir", metavar="DIR")
    check.add_argument("--only", nargs="+", metavar="NAME", help="grade only these functions")
    check.add_argument("--verbose", "-v", action="store_true",
                       help="every rung of every function, passed or not")


def run(args) -> int:
    """Exit 0 when every function that was checked passes (unwritten ones do not count), 1 when
    one fails, 2 for a missing folder or an unknown name."""
    from . import TOPIC_OF, TOPICS, WorkbookError, grade, new_workbook, unknown_names

    if args.workbook_command == "new":
        try:
            files = new_workbook(args.dir, overwrite=args.overwrite)
        except FileExistsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"wrote {len(files)} files to {Path(args.dir)}: {', '.join(p.name for p in files)}")
        print(f"next: open {Path(args.dir) / 'lstm.py'} (or layers.py), write a function, then run\n"
              f"  python -m scratchlstm workbook check {args.dir}")
        return 0
    if args.workbook_command != "check":
        print("error: say `workbook new DIR` or `workbook check DIR` (see --help)", file=sys.stderr)
        return 2
    if args.only and unknown_names(args.only):
        print(f"error: unknown workbook function(s): {', '.join(unknown_names(args.only))}",
              file=sys.stderr)
        return 2
    print(f"grading the workbook in {Path(args.dir).resolve()}")
    current = [None]

    def show(result):
        topic = TOPIC_OF[result.name]
        if topic != current[0]:
            current[0] = topic
            print(f"\n{TOPICS[topic].file}")
        print(result.report(verbose=args.verbose), flush=True)

    try:
        results = grade(args.dir, only=args.only, progress=show)
    except WorkbookError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    parts = [f"{counts.get('PASS', 0)} passed", f"{counts.get('FAIL', 0)} failed",
             f"{counts.get('not written yet', 0)} not written yet"]
    if counts.get("missing"):
        parts.append(f"{counts['missing']} missing")
    print("\n" + ", ".join(parts))
    return 1 if counts.get("FAIL") else 0
