"""A one-line progress bar for training loops, quiet when the output is not a terminal.

Written here rather than taken from a package: it is 50 lines, and a training log that goes to a
file or a CI log should hold one summary line per epoch, not thousands of carriage returns.
"""
from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, desc) as bar: bar.update(n, loss=..., lr=...)``.

    Parameters
    ----------
    total : int or None, number of steps (None: unknown)
    desc : str, shown at the start of the line
    enabled : bool or None; None means "only when ``stream`` is a TTY"
    stream : file, default ``sys.stderr``
    min_interval : float, seconds between redraws
    """

    def __init__(self, total: int | None, desc: str = "", enabled: bool | None = None, stream=None,
                 min_interval: float = 0.2):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.desc, self.enabled, self.min_interval = total, desc, enabled, min_interval
        self.count = 0
        self.fields: dict = {}
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self._width = 0

    def update(self, n: int = 1, **fields) -> None:
        """Advance by ``n`` steps; ``fields`` (e.g. ``loss=2.3``) update the values shown, and a
        field not given keeps its last value (a training loop reads its loss only every few
        steps)."""
        self.count += n
        self.fields.update(fields)
        now = time.perf_counter()
        if self.enabled and (now - self._last_draw >= self.min_interval or self.count == self.total):
            self._last_draw = now
            self._draw(self.fields)

    def _draw(self, fields: dict) -> None:
        if self.total:
            filled = int(20 * self.count / self.total)
            bar = f"[{'#' * filled}{'.' * (20 - filled)}] {self.count}/{self.total}"
        else:
            bar = f"{self.count}"
        extras = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
        line = f"{self.desc} {bar}  {extras}".rstrip()
        pad = max(0, self._width - len(line))
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._width = len(line)

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
