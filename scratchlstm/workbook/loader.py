"""Loading a student's workbook folder as a namespace of functions.

>>> wb = load_workbook("my_lstm")
>>> wb.lstm_step_forward          # the student's function, from my_lstm/lstm.py
>>> wb.gru_forward                # not a workbook function: the library's reading track

Each topic file is imported as its own module (nothing is added to ``sys.path``). A file that is
missing or does not import is recorded in :attr:`Workbook.problems` instead of raising, so the
grader can report it next to the other results.
"""
from __future__ import annotations

import hashlib
import importlib.util
import traceback
from pathlib import Path

from ..nn import functional as reading
from .catalogue import FUNCTIONS, TOPIC_OF, TOPICS


class WorkbookError(ValueError):
    """The workbook folder does not exist or holds no workbook file."""


class Workbook:
    """The functions of a workbook folder, by name.

    Attributes
    ----------
    path : Path of the folder
    functions : dict name -> the student's function, for every workbook function found
    modules : dict topic -> the imported module
    problems : dict topic -> why its file could not be used (missing, or the import error)
    broken : set of the topics whose file exists but does not import
    """

    def __init__(self, path):
        self.path = Path(path).resolve()
        if not self.path.is_dir():
            raise WorkbookError(f"no workbook folder at {path}: create one with "
                                f"`python -m scratchlstm workbook new {path}`")
        self.name = f"workbook {path}"
        self.functions: dict = {}
        self.modules: dict = {}
        self.problems: dict[str, str] = {}
        self.broken: set[str] = set()       # topics whose file exists but does not import
        for topic_name, topic in TOPICS.items():
            file = self.path / topic.file
            if not file.is_file():
                self.problems[topic_name] = f"{topic.file} is missing from {self.path}"
                continue
            try:
                module = _import_file(file, topic_name)
            except Exception as exc:  # SyntaxError, ImportError, anything its top level raises
                self.problems[topic_name] = _describe_import_error(file, exc)
                self.broken.add(topic_name)
                continue
            self.modules[topic_name] = module
            for name in topic.functions:
                fn = getattr(module, name, None)
                if callable(fn):
                    self.functions[name] = fn
        if not self.modules and len(self.problems) == len(TOPICS):
            raise WorkbookError(f"{path} holds no workbook file (expected "
                                f"{', '.join(t.file for t in TOPICS.values())}); create them with "
                                f"`python -m scratchlstm workbook new {path}`")

    def missing(self, name: str) -> str | None:
        """Why the function ``name`` is not available, or None when it is."""
        if name in self.functions:
            return None
        topic = TOPIC_OF[name]
        return self.problems.get(topic) or f"{TOPICS[topic].file} defines no function {name}"

    def __getattr__(self, name):
        # Only called for names that are not attributes: the workbook's functions first, then
        # the library's reading track (for what a workbook does not cover, e.g. the GRU).
        functions = self.__dict__.get("functions", {})
        if name in functions:
            return functions[name]
        if name in FUNCTIONS:
            raise AttributeError(f"{self.__dict__.get('name', 'workbook')}: {self.missing(name)}")
        if hasattr(reading, name):
            return getattr(reading, name)
        raise AttributeError(name)

    def __repr__(self) -> str:
        return f"Workbook({str(self.path)!r}, {len(self.functions)} functions)"


def _import_file(path: Path, topic: str):
    """Import one file as a fresh module under a name of its own."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location(f"scratchlstm_workbook_{digest}.{topic}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _describe_import_error(path: Path, exc: Exception) -> str:
    if isinstance(exc, SyntaxError):
        return f"{path.name} does not import: {exc.msg} at line {exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    where = f" at line {frames[-1].lineno}" if frames else ""
    return f"{path.name} does not import: {type(exc).__name__}: {exc}{where}"


def load_workbook(path) -> Workbook:
    """The :class:`Workbook` in folder ``path`` (see the module docstring)."""
    return Workbook(path)
