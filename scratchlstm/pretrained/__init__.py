"""Pretrained checkpoints that ship inside the package, so that lessons, examples and the web
playground can show a model that has really learned, with no training and no download.

>>> from scratchlstm import pretrained
>>> model, tokenizer = pretrained.load("covid-bpe")        # eval mode, on the CPU
>>> pretrained.info("covid-bpe")["result"]["test_bpc"]      # its recipe, metrics and samples

``covid-bpe``: byte-level BPE (3,000 tokens) on the shipped COVID-19 corpus, a 2 x 256 LSTM with
tied weights, 1.8 M parameters. Recipe: ``recipes/covid_pretrained.py``, made by
``python benchmarks/make_pretrained.py``; results in ``benchmarks/RESULTS.md``.

From the command line, ``python -m scratchlstm.pretrained`` lists the checkpoints and their
paths, e.g. for ``python -m scratchlstm serve --checkpoint PATH``.
"""
from __future__ import annotations

from pathlib import Path

#: name -> file in this folder
CHECKPOINTS = {"covid-bpe": "covid-bpe.npz"}
FOLDER = Path(__file__).resolve().parent


def names() -> list[str]:
    """The names of the pretrained checkpoints."""
    return sorted(CHECKPOINTS)


def path(name: str = "covid-bpe") -> Path:
    """The file of the pretrained checkpoint ``name``.

    Raises
    ------
    ValueError
        ``name`` is not one of :func:`names`.
    FileNotFoundError
        The package was installed without its data files.
    """
    if name not in CHECKPOINTS:
        raise ValueError(f"no pretrained checkpoint {name!r}; available: {', '.join(names())}")
    file = FOLDER / CHECKPOINTS[name]
    if not file.is_file():
        raise FileNotFoundError(
            f"the pretrained checkpoint {name!r} should be at {file} but is missing: the package was "
            "installed without its data files. Reinstall it (pip install scratchlstm), or recreate the "
            "file with `python benchmarks/make_pretrained.py` from a clone of the repository.")
    return file


def load(name: str = "covid-bpe", device: str | None = None):
    """``(model, tokenizer)`` of a pretrained checkpoint, the model in evaluation mode.

    Parameters
    ----------
    name : one of :func:`names`
    device : "cpu", "cuda", "auto" or None (the CPU, unless ``$SCRATCHLSTM_DEVICE`` says otherwise)
    """
    from ..checkpoint import load_model  # noqa: PLC0415 - keep `import scratchlstm` light

    return load_model(path(name), device)


def info(name: str = "covid-bpe") -> dict:
    """What a pretrained checkpoint records about itself: ``recipe``, ``command``,
    ``train_minutes``, ``result`` (valid/test loss, perplexity, bits per character), ``history``
    (one row per epoch) and ``samples`` (text generated at fixed points of training)."""
    from ..checkpoint import load_checkpoint  # noqa: PLC0415

    return load_checkpoint(path(name)).user_meta
