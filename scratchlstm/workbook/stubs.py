"""Writing a fresh workbook: one stub file per topic, generated from the library's reading track.

A stub keeps the library's name, signature and docstring (shapes, what it returns), adds what to
compute and a hint or two from :data:`~scratchlstm.workbook.catalogue.GUIDES`, and raises
``NotImplementedError`` until the student replaces that line with her code.
"""
from __future__ import annotations

import inspect
import textwrap
from pathlib import Path

from .catalogue import GUIDES, TOPICS, reference

README = """\
# Your workbook

Each file holds functions for you to write: the LSTM's layers, recurrences, optimisers, sampling,
byte-pair encoding and one training step. Every function has its docstring (shapes, what to
return), what to compute, and hints. Replace the `raise NotImplementedError(...)` line with your
code, then check it:

    python -m scratchlstm workbook check {dir}                 # everything written so far
    python -m scratchlstm workbook check {dir} --only lstm_step_backward
    python -m pytest tests/ --workbook {dir}                   # the same ladder, as tests

The checker climbs a ladder for each function: fixed inputs against the library's values, then
numerical gradients, then your function inside a real model, which must start at ln V, follow the
library's loss curve and learn a sentence by heart. It tells you which output is wrong, where
(which gate block, which time step) and, for the classic bugs, what the bug probably is.

When lstm.py and layers.py pass, train your own LSTM on the COVID corpus and let it write:

    python -m scratchlstm train --functional {dir} --epochs 2 --out runs/mine

or in Python, `LSTMLanguageModel(..., functional="{dir}")` (lesson 9 ends with it). A function
you have not written yet stops the model with "<name> is not written yet".

Suggested order: bpe.py with lesson 2, layers.py with lesson 4, rnn.py with 5, lstm.py with 6
and 7, optim.py with 8, train.py with 9, sampling.py with 10.
"""


def _wrap_comment(text: str, indent: str, first: str = "", rest: str = "") -> list[str]:
    width = 100 - len(indent) - 2 - len(first)
    lines = textwrap.wrap(text, width) or [""]
    return [f"{indent}# {first}{lines[0]}"] + [f"{indent}# {rest}{line}" for line in lines[1:]]


def stub_source(name: str) -> str:
    """The source of one stub function: the reference's signature and docstring, the guide as
    comments, then ``raise NotImplementedError``."""
    fn = reference(name)
    signature = inspect.signature(fn)
    # The parameters as the library has them, without type annotations (kept short for a student).
    params = ", ".join(str(p.replace(annotation=inspect.Parameter.empty)).replace("'", '"')
                       for p in signature.parameters.values())
    doc = inspect.getdoc(fn) or ""
    guide = GUIDES[name]
    doc = doc.replace("\\", "\\\\").replace('"""', "'''")
    if "\n" in doc:                             # close a long docstring on a line of its own
        doc = doc.replace("\n", "\n    ").rstrip() + '\n    """'
    else:
        doc += '"""'
    lines = [f"def {name}({params}):", '    """' + doc]
    lines = [line.rstrip() for line in "\n".join(lines).split("\n")]
    lines += _wrap_comment(guide.compute, "    ", "Compute: ", "         ")
    for hint in guide.hints:
        lines += _wrap_comment(hint, "    ", "Hint: ", "      ")
    lines.append(f'    raise NotImplementedError("{name} is not written yet")')
    return "\n".join(lines) + "\n"


def topic_source(topic_name: str) -> str:
    """The whole stub file of a topic."""
    topic = TOPICS[topic_name]
    names = ", ".join(topic.functions)
    header = (f'"""Workbook: {topic.title} ({topic.lessons}).\n\n'
              f"Write {names}.\n"
              "Check them with `python -m scratchlstm workbook check <this folder>`.\n"
              '"""\n')
    return header + topic.imports + "\n\n" + "\n\n".join(stub_source(n) for n in topic.functions)


def new_workbook(directory, overwrite: bool = False) -> list[Path]:
    """Write a fresh workbook into ``directory`` (created if needed).

    Parameters
    ----------
    directory : str or Path
    overwrite : bool, replace files that exist already (your work in them is lost); without it
        an existing file is kept and reported

    Returns
    -------
    list of the files written

    Raises
    ------
    FileExistsError
        Some workbook files exist and ``overwrite`` is False: nothing is written then.
    """
    directory = Path(directory)
    files = {directory / t.file: topic_source(name) for name, t in TOPICS.items()}
    files[directory / "README.md"] = README.format(dir=directory)
    existing = [p for p in files if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{directory} already holds workbook files "
                              f"({', '.join(p.name for p in existing)}); nothing was written. "
                              "Pick another folder, or pass --overwrite to replace them (your work "
                              "in them is then lost).")
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)
