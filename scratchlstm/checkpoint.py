"""One-file, pickle-free checkpoints: arrays in an ``.npz`` archive, metadata as JSON inside it.

Layout of the archive (a plain zip of ``.npy`` files, readable by ``numpy.load`` with
``allow_pickle=False``):

* ``__meta__``: a uint8 array holding UTF-8 JSON: format name and version, library version, model
  config, tokenizer, optimizer hyperparameters and step, trainer position, history, ...
* ``model/<parameter name>``: the weights (host copies, so a GPU checkpoint loads on a CPU);
* ``optim/<state name>/<k>``: optimizer state arrays (Adam's moments), one per parameter;
* any further arrays the caller passes (``state/h``, ``state/c`` for the hidden state).

Writes are atomic: the archive goes to a temporary file in the same folder, is flushed to disk,
and then renamed over the target, so a crash or Ctrl-C mid-write never destroys the previous
checkpoint.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path

from . import __version__
from .backend import to_host, np

FORMAT = "scratchlstm-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another format, or does not fit the model."""


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in checkpoint metadata")


def save_checkpoint(path, model, tokenizer=None, optimizer=None, meta: dict | None = None,
                    arrays: dict | None = None) -> Path:
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : str or Path, the ``.npz`` file to (over)write
    model : LSTMLanguageModel (its ``config`` and ``state_dict()`` are stored)
    tokenizer : any scratchlstm tokenizer (stored through its ``to_dict()``) or None
    optimizer : an Optimizer (hyperparameters, step count and state arrays) or None
    meta : extra JSON-serialisable metadata (epoch, step, history, scheduler states, ...)
    arrays : extra arrays to store (host or device; copied to the host)

    Returns
    -------
    Path of the written file
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = {f"model/{name}": value for name, value in model.state_dict().items()}
    info = {"format": FORMAT, "format_version": FORMAT_VERSION, "library_version": __version__,
            "model_class": type(model).__name__, "model_config": model.config,
            "parameter_names": [name for name, _ in model.named_parameters()]}
    if tokenizer is not None:
        info["tokenizer"] = tokenizer.to_dict()
    if optimizer is not None:
        opt_state = optimizer.state_dict()
        info["optimizer"] = {k: v for k, v in opt_state.items() if k != "state"}
        info["optimizer"]["state_lengths"] = {name: len(a) for name, a in opt_state["state"].items()}
        for name, arrays_k in opt_state["state"].items():
            for k, a in enumerate(arrays_k):
                if a is not None:
                    store[f"optim/{name}/{k}"] = a
    for name, value in (arrays or {}).items():
        store[name] = to_host(value)
    info["meta"] = meta or {}
    store["__meta__"] = np.frombuffer(json.dumps(info, default=_json_default).encode("utf-8"), dtype=np.uint8)

    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **store)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


class Checkpoint:
    """A loaded checkpoint: ``meta`` (the JSON dict) and ``arrays`` (name -> NumPy array)."""

    def __init__(self, path, meta: dict, arrays: dict):
        self.path, self.meta, self.arrays = Path(path), meta, arrays

    @property
    def model_config(self) -> dict:
        return self.meta["model_config"]

    @property
    def user_meta(self) -> dict:
        return self.meta.get("meta", {})

    def model_state(self) -> dict:
        return {k[len("model/"):]: v for k, v in self.arrays.items() if k.startswith("model/")}

    def build_model(self, device: str | None = None):
        """Rebuild the model from the stored config and load the stored weights, on ``device``
        (None: ``$SCRATCHLSTM_DEVICE``, else the CPU)."""
        from .models import LSTMLanguageModel  # noqa: PLC0415 - avoid an import cycle

        try:
            model = LSTMLanguageModel(**self.model_config, device=device)
        except TypeError as exc:
            raise CheckpointError(f"{self.path}: model config {self.model_config} does not fit this "
                                  f"version of scratchlstm ({exc})") from exc
        self.load_into(model)
        return model

    def load_into(self, model) -> None:
        """Copy the stored weights into an existing model, with a clear error when they differ."""
        try:
            model.load_state_dict(self.model_state())
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{self.path} does not match this model: {exc}") from exc

    def tokenizer(self):
        """The stored tokenizer, or None."""
        if "tokenizer" not in self.meta:
            return None
        from .text import tokenizer_from_dict  # noqa: PLC0415

        return tokenizer_from_dict(self.meta["tokenizer"])

    def load_optimizer(self, optimizer) -> None:
        """Restore an optimizer's hyperparameters, step count and state arrays."""
        info = self.meta.get("optimizer")
        if info is None:
            raise CheckpointError(f"{self.path} holds no optimizer state (was it saved for inference only?)")
        state = {name: [self.arrays.get(f"optim/{name}/{k}") for k in range(n)]
                 for name, n in info["state_lengths"].items()}
        try:
            optimizer.load_state_dict({"type": info["type"], "hyperparameters": info["hyperparameters"],
                                       "step_count": info["step_count"], "state": state})
        except ValueError as exc:
            raise CheckpointError(f"{self.path}: optimizer state does not fit: {exc}") from exc


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, never unpickling anything.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    CheckpointError
        The file is truncated or corrupt, is not a scratchlstm checkpoint, or has a newer format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path} is not a scratchlstm checkpoint: it is not an .npz (zip) archive. "
                              "Was it truncated while copying, or is it a file of another format?")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "__meta__" not in archive.files:
                raise CheckpointError(f"{path} is an .npz file but not a scratchlstm checkpoint "
                                      "(it has no __meta__ entry)")
            arrays = {name: archive[name] for name in archive.files}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint: it may be truncated, corrupt, or "
                              f"a file of another format ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: the checkpoint metadata is corrupt ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a scratchlstm checkpoint (format {meta.get('format')!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer scratchlstm (format version "
                              f"{meta['format_version']} > {FORMAT_VERSION}); upgrade the library")
    return Checkpoint(path, meta, arrays)


def load_model(path, device: str | None = None):
    """Convenience: ``(model, tokenizer)`` from a checkpoint, ready for generation (eval mode), on
    ``device`` (None: ``$SCRATCHLSTM_DEVICE``, else the CPU)."""
    ckpt = load_checkpoint(path)
    return ckpt.build_model(device).eval(), ckpt.tokenizer()
