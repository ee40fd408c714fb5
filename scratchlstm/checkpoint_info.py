"""What a checkpoint holds, for people: ``scratchlstm info CHECKPOINT``.

:func:`describe_checkpoint` reads a checkpoint's metadata (without building the model) into a
JSON-able dict: the model and its parameter count, the tokenizer, the data and training settings
of the run, where the run stood, the best epoch and the metrics, the file's size.
:func:`format_description` turns it into a few aligned lines.
"""
from __future__ import annotations

import math
import textwrap
from pathlib import Path

from .checkpoint import load_checkpoint
from .config import MODEL_KIND_OF_CLASS
from .progress import terminal_columns


def _file_size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size}"


def _best_row(history: list, best_epoch) -> dict | None:
    for row in history:
        if isinstance(row, dict) and row.get("epoch") == best_epoch:
            return row
    return None


def describe_checkpoint(path) -> dict:
    """A JSON-able description of the checkpoint at ``path``.

    Returns
    -------
    dict with ``file``, ``size_bytes``, ``kind`` ("training", "pretrained", or "weights"),
    ``library_version``, ``model`` (class, kind, config, parameters, summary), ``tokenizer``
    (kind, vocabulary size, options) or None, and, as far as the file records them, ``data``,
    ``train`` (the settings), ``position`` (epoch and step a resume starts at), ``best_epoch``,
    ``epochs_run``, ``best`` (the metrics of the best epoch), ``last`` (of the last epoch) and
    ``result`` (the final evaluation).

    Raises
    ------
    FileNotFoundError, CheckpointError
        As :func:`~scratchlstm.checkpoint.load_checkpoint`, and for damaged metadata.
    """
    from .training import read_data_config  # noqa: PLC0415 - training imports the models

    path = Path(path)
    ckpt = load_checkpoint(path)
    ckpt.check_shapes()                       # the config matches the stored weights
    meta = ckpt.user_meta
    config = dict(ckpt.model_config)
    parameters = sum(int(a.size) for a in ckpt.model_state().values())
    model_class = ckpt.model_class_name
    out = {
        "file": str(path), "size_bytes": path.stat().st_size,
        "kind": meta.get("kind", "weights") if isinstance(meta.get("kind"), str) else "weights",
        "library_version": ckpt.meta.get("library_version"),
        "model": {"class": model_class, "kind": MODEL_KIND_OF_CLASS.get(model_class, "lstm"),
                  "config": config, "parameters": parameters},
        "tokenizer": None,
    }
    tokenizer = ckpt.tokenizer()
    if tokenizer is not None:
        options = {k: v for k, v in tokenizer.to_dict()["config"].items()}
        out["tokenizer"] = {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size, "options": options}
    data = read_data_config(path, meta)
    if data is not None:                      # the corpus and the options its tokenizer uses
        out["data"] = {"data": data.data, "data_dir": data.data_dir, "max_chars": data.max_chars,
                       "tokenizer": data.tokenizer, **data.tokenizer_options()}
    if isinstance(meta.get("train_config"), dict):
        out["train"] = meta["train_config"]
    elif isinstance(meta.get("recipe"), dict):           # a pretrained checkpoint keeps its recipe
        out["train"] = meta["recipe"].get("train")
        out["recipe"] = meta["recipe"].get("file")
    if meta.get("kind") == "training" and isinstance(meta.get("epoch"), int):
        out["position"] = {"epoch": meta["epoch"], "step": meta.get("window", 0),
                           "global_step": meta.get("global_step")}
    history = meta.get("history") if isinstance(meta.get("history"), list) else []
    result = meta.get("result") if isinstance(meta.get("result"), dict) else None
    best_epoch = meta.get("best_epoch")
    if best_epoch is None and result is not None:
        best_epoch = result.get("best_epoch")
    if history:
        out["epochs_run"] = len(history)
        out["last"] = history[-1]
        best = _best_row(history, best_epoch)
        if best is not None:
            out["best"] = best
    if best_epoch:
        out["best_epoch"] = best_epoch
    if result is not None:
        out["result"] = result
    return out


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _settings(values: dict, skip=()) -> str:
    return ", ".join(f"{k}={_number(v)}" for k, v in values.items() if k not in skip and v is not None)


def _metrics(row: dict) -> str:
    parts = []
    for split in ("train", "valid", "test"):
        if f"{split}_loss" in row:
            text = f"{split} loss {row[f'{split}_loss']:.4f} (ppl {math.exp(min(row[f'{split}_loss'], 700)):.2f}"
            if f"{split}_bpc" in row:
                text += f", {row[f'{split}_bpc']:.3f} bits/char"
            parts.append(text + ")")
    return "; ".join(parts)


def format_description(d: dict) -> str:
    """The description of :func:`describe_checkpoint` as aligned lines."""
    model = d["model"]
    c = model["config"]
    if model["kind"] == "transformer":
        shape = (f"transformer, {c['n_layers']} blocks, d_model {c['d_model']}, {c['n_heads']} heads, "
                 f"context {c['block_size']}")
    else:
        shape = (f"{c['num_layers']}-layer {c.get('cell', 'lstm').upper()}, {c['hidden_dim']} units, "
                 f"embedding {c['embed_dim']}")
    shape += ", tied" if c.get("tie_weights") else ""
    lines = [("file", f"{d['file']} ({_file_size(d['size_bytes'])}, a {d['kind']} checkpoint of "
                      f"scratchlstm {d.get('library_version')})"),
             ("model", f"{shape}; {model['parameters']:,} parameters, {c.get('dtype', 'float32')}"),
             ("model config", _settings(c))]
    t = d.get("tokenizer")
    lines.append(("tokenizer", f"{t['kind']}, vocabulary {t['vocab_size']:,}"
                               + (f" ({_settings(t['options'])})" if t["options"] else "")
                  if t else "none stored (generation needs one)"))
    if "data" in d:
        lines.append(("data", _settings(d["data"])))
    if d.get("train"):
        lines.append(("training", _settings(d["train"], skip=("progress",))))
    if d.get("recipe"):
        lines.append(("recipe", d["recipe"]))
    if "position" in d:
        p = d["position"]
        lines.append(("position", f"resumes at epoch {p['epoch']}, step {p['step']}"
                      + (f" (global step {p['global_step']:,})" if p.get("global_step") is not None else "")))
    if "epochs_run" in d:
        lines.append(("epochs run", str(d["epochs_run"])))
    if d.get("best_epoch"):
        best = d.get("best")
        lines.append(("best epoch", f"{d['best_epoch']}" + (f": {_metrics(best)}" if best else "")))
    if "last" in d and d["last"] is not d.get("best"):
        lines.append(("last epoch", f"{d['last'].get('epoch')}: {_metrics(d['last'])}"))
    if d.get("result"):
        text = _metrics(d["result"])
        if text:
            lines.append(("final result", f"(best weights) {text}"))
    width = max(len(k) for k, _ in lines)
    wrap = textwrap.TextWrapper(width=max(60, terminal_columns()), subsequent_indent=" " * (width + 2),
                                break_on_hyphens=False)
    return "\n".join(wrap.fill(f"{k:<{width}}  {v}") for k, v in lines)
