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
checkpoint. A process killed mid-write (``kill -9``) leaves its temporary file behind, named
``<target>.<8 characters>.tmp``; :func:`remove_stale_temp_files` deletes those, and the next
save to the same target does so too. Weights that are not all finite are never written: a NaN
checkpoint would replace the last good one.

Loading checks everything it reads: a damaged or hand-edited file (a missing key, a string where
a number belongs, a model config that does not match the stored arrays, a tokenizer whose
vocabulary does not fit the model) raises :class:`CheckpointError` naming the file and the
problem, never a KeyError, AttributeError or MemoryError from deep inside.
"""
from __future__ import annotations

import json
import numbers
import os
import re
import tempfile
import zipfile
from pathlib import Path

from typing import TYPE_CHECKING

from . import __version__
from .backend import to_host, np

if TYPE_CHECKING:                      # names for type hints only (they import this module)
    from .models import LanguageModel
    from .text.base import Tokenizer

FORMAT = "scratchlstm-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, of another format, or does not fit the model."""


class NonFiniteWeightsError(CheckpointError):
    """Refused to save: some weights are NaN or infinite (training diverged)."""


class OutputError(OSError):
    """A file could not be written (disk full, no permission, ...); the previous file is intact."""


#: What :func:`tempfile.mkstemp` makes of ``prefix=<target>. suffix=.tmp``: 8 characters from
#: ``[a-z0-9_]`` between them. Only files of this exact shape are ever deleted as stale.
TEMP_PATTERN = re.compile(r"^(?P<target>.+\.(?:npz|json|csv|png))\.[a-z0-9_]{8}\.tmp$")


def _umask() -> int:
    """The process's file-creation mask (reading it means setting it, so it is set back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_stale_temp_files(folder, target: str | None = None) -> list[Path]:
    """Delete temporary files left by writes that were killed before their rename.

    Parameters
    ----------
    folder : the folder to clean (nothing happens when it does not exist)
    target : only the temporary files of this file name (e.g. ``"last.npz"``); None: all of
        the checkpoint, history and plot files

    Returns
    -------
    list of the deleted paths
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = TEMP_PATTERN.match(entry.name)
        if match and (target is None or match["target"] == target) and entry.is_file():
            try:
                entry.unlink()
                removed.append(entry)
            except FileNotFoundError:      # another cleaner was faster
                pass
    return removed


def write_atomically(path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename: readers see the old
    file or the new one, never half of one.

    Raises
    ------
    OutputError
        The write failed (disk full, no permission, ...); ``path`` is unchanged.
    """
    path = Path(path)
    _atomic_write(path, lambda f: f.write(data))
    return path


def _atomic_write(path: Path, write) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, rename it over ``path``."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        # mkstemp makes the file private (0600); give it the permissions any new file gets
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            kept = "the previous file is intact" if path.exists() else "nothing was written"
            error = OutputError(f"could not write {path}: {exc.strerror or exc} ({kept})")
            error.errno = exc.errno
            raise error from exc
        raise


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
    store = {f"model/{name}": value for name, value in model.state_dict().items()}
    bad = [name for name, value in store.items()
           if value.dtype.kind in "fc" and not np.isfinite(value).all()]
    if bad:
        raise NonFiniteWeightsError(
            f"refusing to write {path}: the weights {', '.join(n[len('model/'):] for n in bad)} hold NaN "
            "or infinite values (training diverged). The previous file, if any, is kept.")
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

    _atomic_write(path, lambda f: np.savez(f, **store))
    remove_stale_temp_files(path.parent, path.name)     # left by earlier writes that were killed
    return path


#: The model config keys a checkpoint must hold, with the types they must have.
#: What the config of each model class must hold, and of which type (checked before building).
_MODEL_CONFIG_TYPES = {
    "LSTMLanguageModel": {"vocab_size": int, "embed_dim": int, "hidden_dim": int, "num_layers": int,
                          "dropout": numbers.Real, "tie_weights": bool},
    "TransformerLanguageModel": {"vocab_size": int, "d_model": int, "n_heads": int, "n_layers": int,
                                 "block_size": int, "mlp_ratio": int, "dropout": numbers.Real,
                                 "tie_weights": bool},
}


def _model_class(name: str):
    """The class a checkpoint's ``model_class`` names (imported late: the models import this)."""
    if name == "TransformerLanguageModel":
        from .transformer import TransformerLanguageModel  # noqa: PLC0415
        return TransformerLanguageModel
    from .models import LSTMLanguageModel  # noqa: PLC0415
    return LSTMLanguageModel


class Checkpoint:
    """A loaded checkpoint: ``meta`` (the JSON dict) and ``arrays`` (name -> NumPy array)."""

    def __init__(self, path, meta: dict, arrays: dict):
        self.path, self.meta, self.arrays = Path(path), meta, arrays

    def _damaged(self, what: str) -> CheckpointError:
        return CheckpointError(f"{self.path}: {what}. The file was damaged or edited by hand; use "
                               "another checkpoint (last.npz and best.npz are written separately)")

    @property
    def model_class_name(self) -> str:
        name = self.meta.get("model_class", "LSTMLanguageModel")
        if name not in _MODEL_CONFIG_TYPES:
            raise self._damaged(f"it names an unknown model class {name!r} (known: "
                                f"{', '.join(_MODEL_CONFIG_TYPES)})")
        return name

    @property
    def model_config(self) -> dict:
        config = self.meta.get("model_config")
        if not isinstance(config, dict):
            raise self._damaged(f"the model config is {type(config).__name__}, not a JSON object")
        for key, kind in _MODEL_CONFIG_TYPES[self.model_class_name].items():
            value = config.get(key)
            if key not in config:
                raise self._damaged(f"the model config has no {key!r}")
            if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
                raise self._damaged(f"the model config's {key!r} is {value!r}, not a {kind.__name__}")
        return config

    @property
    def user_meta(self) -> dict:
        meta = self.meta.get("meta", {})
        if not isinstance(meta, dict):
            raise self._damaged(f"its metadata is {type(meta).__name__}, not a JSON object")
        return meta

    def model_state(self) -> dict:
        return {k[len("model/"):]: v for k, v in self.arrays.items() if k.startswith("model/")}

    def check_shapes(self) -> None:
        """Compare the parameter count the model config implies with the arrays stored.

        Done before the model is built, so that an edited config (a vocabulary of 10^12) is
        refused instead of asking the machine for terabytes.
        """
        from .models import count_parameters  # noqa: PLC0415 - avoid an import cycle

        c = self.model_config
        if self.model_class_name == "TransformerLanguageModel":
            from .transformer import count_transformer_parameters  # noqa: PLC0415

            for key in ("vocab_size", "d_model", "n_heads", "n_layers", "block_size", "mlp_ratio"):
                if c[key] < 1:
                    raise self._damaged(f"the model config's {key!r} is {c[key]}, not a positive integer")
            expected = count_transformer_parameters(**{k: c[k] for k in (
                "vocab_size", "d_model", "n_layers", "block_size", "mlp_ratio", "tie_weights")})
            self._compare_counts(expected)
            return
        cell = c.get("cell", "lstm")
        if cell not in ("lstm", "gru", "rnn"):
            raise self._damaged(f"the model config names an unknown cell {cell!r}")
        for key in ("vocab_size", "embed_dim", "hidden_dim", "num_layers"):
            if c[key] < 1:
                raise self._damaged(f"the model config's {key!r} is {c[key]}, not a positive integer")
        self._compare_counts(count_parameters(c["vocab_size"], c["embed_dim"], c["hidden_dim"],
                                              c["num_layers"], cell, c["tie_weights"]))

    def _compare_counts(self, expected: int) -> None:
        stored = sum(int(a.size) for a in self.model_state().values())
        if expected != stored:
            raise self._damaged(f"its model config implies {expected:,} parameters but it stores "
                                f"{stored:,} weights")

    def build_model(self, device: str | None = None) -> "LanguageModel":
        """Rebuild the model from the stored config and load the stored weights, on ``device``
        (None: ``$SCRATCHLSTM_DEVICE``, else the CPU)."""
        self.check_shapes()
        try:
            model = _model_class(self.model_class_name)(**self.model_config, device=device)
        except (TypeError, ValueError) as exc:
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

    def check_fits(self, model) -> None:
        """Raise CheckpointError unless the stored weights have the names and shapes of ``model``'s."""
        own = {name: tuple(p.data.shape) for name, p in model.named_parameters()}
        stored = {name: tuple(a.shape) for name, a in self.model_state().items()}
        if own != stored:
            differ = sorted(k for k in set(own) | set(stored) if own.get(k) != stored.get(k))
            raise CheckpointError(f"{self.path} does not match this model: parameters {differ[:4]} "
                                  f"differ (model {[own.get(k) for k in differ[:4]]}, file "
                                  f"{[stored.get(k) for k in differ[:4]]})")

    def tokenizer(self) -> "Tokenizer | None":
        """The stored tokenizer, or None. Its vocabulary must be the model's."""
        if "tokenizer" not in self.meta:
            return None
        from .text import tokenizer_from_dict  # noqa: PLC0415

        try:
            tokenizer = tokenizer_from_dict(self.meta["tokenizer"])
            size = tokenizer.vocab_size
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, MemoryError,
                RecursionError) as exc:
            raise self._damaged(f"its tokenizer cannot be restored ({type(exc).__name__}: {exc})") from exc
        model_size = self.model_config["vocab_size"]
        if size != model_size:
            raise self._damaged(f"its {tokenizer.kind} tokenizer has {size:,} tokens but the model's "
                                f"vocabulary has {model_size:,}")
        return tokenizer

    def load_optimizer(self, optimizer) -> None:
        """Restore an optimizer's hyperparameters, step count and state arrays."""
        info = self.meta.get("optimizer")
        if info is None:
            raise CheckpointError(f"{self.path} holds no optimizer state (was it saved for inference only?)")
        try:
            state = {name: [self.arrays.get(f"optim/{name}/{k}") for k in range(n)]
                     for name, n in info["state_lengths"].items()}
            optimizer.load_state_dict({"type": info["type"], "hyperparameters": info["hyperparameters"],
                                       "step_count": info["step_count"], "state": state})
        except (KeyError, TypeError, AttributeError) as exc:
            raise self._damaged(f"its optimizer state is incomplete ({type(exc).__name__}: {exc})") from exc
        except ValueError as exc:
            raise CheckpointError(f"{self.path}: optimizer state does not fit: {exc}") from exc


def load_checkpoint(path: str | os.PathLike, arrays: bool = True) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, never unpickling anything.

    ``arrays=False`` reads only the metadata (quick, for a look at the settings); the
    checkpoint's ``arrays`` are then empty.

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
            names = archive.files if arrays else ["__meta__"]
            arrays = {name: archive[name] for name in names}
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, MemoryError) as exc:
        raise CheckpointError(f"{path} is not a readable checkpoint: it may be truncated, corrupt, or "
                              f"a file of another format ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(arrays.pop("__meta__").tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{path}: the checkpoint metadata is corrupt ({type(exc).__name__}: "
                              f"{exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(f"{path} is not a scratchlstm checkpoint (format {found!r})")
    version = meta.get("format_version", 0)
    if isinstance(version, bool) or not isinstance(version, int):
        raise CheckpointError(f"{path}: format_version must be an integer, got {version!r}; the file "
                              "was damaged or edited by hand")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} was written by a newer scratchlstm (format version "
                              f"{version} > {FORMAT_VERSION}); upgrade the library")
    return Checkpoint(path, meta, arrays)


def load_model(path: str | os.PathLike, device: str | None = None) -> tuple["LanguageModel", "Tokenizer | None"]:
    """Convenience: ``(model, tokenizer)`` from a checkpoint, ready for generation (eval mode), on
    ``device`` (None: ``$SCRATCHLSTM_DEVICE``, else the CPU)."""
    ckpt = load_checkpoint(path)
    tokenizer = ckpt.tokenizer()            # checked against the model's vocabulary first
    return ckpt.build_model(device).eval(), tokenizer
