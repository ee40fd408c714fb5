"""Which forward/backward pairs a layer runs: the speed track, the reading track, or a workbook.

>>> resolve_functional()             # None or "fast": scratchlstm.nn.fast, what layers run
>>> resolve_functional("reading")    # scratchlstm.nn.functional, the plain version to read
>>> resolve_functional("my_lstm/")   # a student's workbook folder (python -m scratchlstm workbook new)

Every track has the same function names and signatures, so a layer calls ``self.F.lstm_forward``
whichever it was given, and a model trained on one track computes the same numbers on another.
"""
from __future__ import annotations

import os
from types import ModuleType

from . import fast
from . import functional as reading

TRACKS = {"fast": fast, "reading": reading}

#: The functions a layer may call; a namespace passed as ``functional`` must provide the ones
#: its layers use (a workbook falls back to the reading track for the others).
LAYER_FUNCTIONS = ("affine_forward", "affine_backward", "embedding_forward", "embedding_backward",
                   "dropout_forward", "dropout_backward", "softmax_cross_entropy",
                   "lstm_forward", "lstm_backward", "rnn_forward", "rnn_backward",
                   "gru_forward", "gru_backward")


def resolve_functional(functional=None):
    """Turn a track request into an object with the functional API.

    Parameters
    ----------
    functional : None, "fast", "reading", a folder path (a workbook), or any module or object
        with the functions of :data:`LAYER_FUNCTIONS` as attributes

    Returns
    -------
    module or namespace
    """
    if functional is None:
        return fast
    if isinstance(functional, str) and functional in TRACKS:
        return TRACKS[functional]
    if isinstance(functional, (str, os.PathLike)):
        from ..workbook import load_workbook  # noqa: PLC0415 - the workbook imports the layers

        return load_workbook(functional)
    if isinstance(functional, ModuleType) or hasattr(functional, "lstm_forward"):
        return functional
    raise TypeError(f"functional must be 'fast', 'reading', a workbook folder or a module with "
                    f"the functional API, got {functional!r}")


def track_name(F) -> str:
    """``"fast"``, ``"reading"``, or a description of another namespace (for messages)."""
    for name, module in TRACKS.items():
        if F is module:
            return name
    return getattr(F, "name", None) or repr(F)
