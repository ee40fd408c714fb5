"""A one-line progress bar for training and evaluation loops, quiet when the output is not a terminal.

Drawn by ``tqdm``, which keeps the line inside the terminal's width (it redraws in place, so a
line that wrapped would leave a stale copy per redraw), shows the elapsed time and an estimate of
the time left, and stays silent in logs: a training log that goes to a file or a CI log holds one
summary line per epoch, not thousands of carriage returns.
"""
from __future__ import annotations

import os
import shutil
import sys

from tqdm import tqdm

#: What the bar shows: what it counts, percentage and bar, steps done, elapsed < time left, then
#: the fields given to update (e.g. loss, perplexity, tokens per second).
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"
BAR_FORMAT_NO_TOTAL = "{desc} {n_fmt} [{elapsed}{postfix}]"
#: Seconds between redraws, unless a bar is given its own.
MIN_INTERVAL = 0.2


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _field_text(name: str, value) -> str:
    """``loss 2.5``; a rate named ``x_s`` reads ``1,234 x/s``."""
    if name.endswith("_s"):
        return f"{_format(value)} {name[:-2]}/s"
    return f"{name} {_format(value)}"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty()) and isinstance(stream.fileno(), int)
    except (AttributeError, OSError, ValueError):
        return False


def terminal_columns(stream=None) -> int:
    """The width of the terminal ``stream`` writes to; else ``$COLUMNS``, else 80."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns


class Progress:
    """``with Progress(total, desc) as bar: bar.update(n, loss=..., tok_s=...)``.

    Parameters
    ----------
    total : int or None, number of steps (None: unknown)
    desc : str, shown at the start of the line
    enabled : bool or None; None means "only when ``stream`` is a terminal"
    stream : file, default ``sys.stderr``
    min_interval : float or None, seconds between redraws (None: :data:`MIN_INTERVAL`)
    width : int or None, the most characters a line may take; None: the terminal's width,
        followed as the window is resized
    """

    def __init__(self, total: int | None, desc: str = "", enabled: bool | None = None, stream=None,
                 min_interval: float | None = None, width: int | None = None):
        self.stream = stream if stream is not None else sys.stderr
        min_interval = MIN_INTERVAL if min_interval is None else min_interval
        if enabled is None:
            enabled = _is_terminal(self.stream)
        self.total, self.desc, self.enabled, self.min_interval = total, desc, enabled, min_interval
        self.fields: dict = {}
        follow = width is None and _is_terminal(self.stream)
        self._bar = tqdm(total=total, desc=desc, file=self.stream, disable=not enabled,
                         mininterval=min_interval, miniters=1, leave=False, ascii=" .#",
                         bar_format=BAR_FORMAT if total else BAR_FORMAT_NO_TOTAL,
                         dynamic_ncols=follow,
                         ncols=None if follow else (width or terminal_columns(self.stream)))

    @property
    def count(self) -> int:
        """Steps done so far."""
        return self._bar.n

    @count.setter
    def count(self, value: int) -> None:
        """Start from step ``value`` (a resumed epoch); the rate counts only the steps run here."""
        self._bar.n = self._bar.last_print_n = int(value)
        self._bar.initial = int(value)

    def update(self, n: int = 1, **fields) -> None:
        """Advance by ``n`` steps; ``fields`` (e.g. ``loss=2.3``) update the values shown, and a
        field not given keeps its last value (a training loop reads its loss only every few
        steps, and reading it more often would wait for the GPU)."""
        if fields:
            self.fields.update(fields)
            if self.enabled:
                self._bar.set_postfix_str(" ".join(_field_text(k, v) for k, v in self.fields.items()),
                                          refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        """Take the bar off the screen (the caller prints its one summary line)."""
        self._bar.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
