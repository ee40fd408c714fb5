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
