"""Matplotlib figures: learning curves, activation heat maps, gradient norms over time.

Every function takes host data (lists or NumPy arrays), draws on a new figure, optionally saves
it, and returns the figure. Matplotlib chooses its backend itself: inline in a notebook, a
window on a desktop, and the file-only "Agg" backend on a server without a display.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt

from .backend import to_host, np


def plot_history(history: list[dict], path=None, title: str | None = None):
    """Loss (left) and perplexity (right, log scale) per epoch, train against validation.

    Parameters
    ----------
    history : list of per-epoch dicts with ``epoch``, ``train_loss``, ``valid_loss``
    path : where to save a PNG, or None
    """
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_ppl) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label, style in (("train_loss", "train", "o-"), ("valid_loss", "valid", "s-")):
        values = [h.get(key) for h in history]
        if any(v is not None for v in values):
            ax_loss.plot(epochs, values, style, label=label)
            ax_ppl.plot(epochs, [math.exp(min(v, 50)) if v is not None else None for v in values], style, label=label)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy (nats / token)")
    ax_ppl.set_xlabel("epoch")
    ax_ppl.set_ylabel("perplexity")
    ax_ppl.set_yscale("log")
    for ax in (ax_loss, ax_ppl):
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_curves(curves: dict, path=None, ylabel: str = "validation perplexity", xlabel: str = "epoch",
                logy: bool = True, title: str | None = None):
    """Several named curves on one axis: ``{"LSTM": [ppl per epoch], "GRU": [...]}``."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, "o-", label=name, markersize=3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_gradient_norms(norms, path=None, label: str | None = None, ax=None):
    """Gradient norm against distance in time (log scale): vanishing/exploding gradients.

    Parameters
    ----------
    norms : (T,) norms of dL/dh_t for a loss at the last step, indexed by distance from it
    """
    norms = to_host(norms)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 4))
    else:
        fig = ax.figure
    ax.semilogy(np.arange(len(norms)), norms, label=label)
    ax.set_xlabel("distance in time from the loss (steps)")
    ax.set_ylabel("||dL/dh||")
    ax.grid(True, alpha=0.3)
    if label:
        ax.legend()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def plot_activations(values, tokens, path=None, title: str = "", cmap: str = "RdBu_r", max_units: int = 32):
    """Heat map of activations (units x time) under the text that produced them.

    Parameters
    ----------
    values : (T, H) array, e.g. cell states or gate values for one sequence
    tokens : list of T strings shown along the time axis
    """
    values = to_host(values)[:, :max_units]
    fig, ax = plt.subplots(figsize=(max(6, 0.25 * len(tokens)), 0.25 * values.shape[1] + 1.5))
    limit = float(np.abs(values).max()) or 1.0
    image = ax.imshow(values.T, aspect="auto", cmap=cmap, vmin=-limit, vmax=limit)
    ax.set_xticks(range(len(tokens)))
    ax.set_xticklabels([repr(t)[1:-1] for t in tokens], rotation=90, fontsize=7)
    ax.set_ylabel("unit")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.02)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


def text_layout(pieces, width: int = 90):
    """Where each character of a text goes in a grid of ``width`` columns, for a coloured-text
    figure: a newline starts a new row (and takes no cell), long rows wrap.

    Parameters
    ----------
    pieces : list of strings (tokens), in order; their concatenation is the text

    Returns
    -------
    list of ``(row, column, character, piece index)``, one per drawn character
    """
    cells, row, col = [], 0, 0
    for k, piece in enumerate(pieces):
        for ch in piece:
            if ch == "\n":
                row, col = row + 1, 0
                continue
            if col == width:
                row, col = row + 1, 0
            cells.append((row, col, ch, k))
            col += 1
    return cells


def plot_text_activations(pieces, values, path=None, title: str = "", width: int = 90,
                          cmap: str = "RdBu_r", limit: float | None = None):
    """The text itself, each character's background shaded by one unit's value at its token
    (red positive, blue negative): Karpathy's visualisation of what an LSTM cell tracks.

    Parameters
    ----------
    pieces : list of T strings, the tokens (characters for a character model, subwords for BPE)
    values : (T,) array, one value per token (e.g. the cell state of one unit)
    width : characters per row before wrapping; newlines in the text start a new row
    limit : the value shown at full colour (default: the largest ``|value|``)
    """
    values = np.asarray(to_host(values), dtype=float).reshape(-1)
    if len(pieces) != values.size:
        raise ValueError(f"plot_text_activations: {len(pieces)} pieces but {values.size} values; "
                         "give one value per token")
    cells = text_layout(pieces, width)
    rows = (cells[-1][0] + 1) if cells else 1
    limit = limit or float(np.abs(values).max()) or 1.0
    colours = plt.get_cmap(cmap)
    fig, ax = plt.subplots(figsize=(width * 0.105, rows * 0.24 + (0.45 if title else 0.15)))
    for row, col, ch, k in cells:
        # 0.1 .. 0.9 of the colour map: the darkest ends would hide the letters
        shade = colours(0.5 + 0.4 * float(np.clip(values[k] / limit, -1.0, 1.0)))
        ax.add_patch(plt.Rectangle((col, -row - 1), 1, 1, facecolor=shade, edgecolor="none"))
        if not ch.isspace():
            ax.text(col + 0.5, -row - 0.5, ch, ha="center", va="center", family="monospace", fontsize=8)
    ax.set_xlim(0, width)
    ax.set_ylim(-rows, 0)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    fig.subplots_adjust(left=0.005, right=0.995, bottom=0.01, top=0.99 if not title else 1 - 0.3 / (rows * 0.24 + 0.45))
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
