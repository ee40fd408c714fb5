"""What the strict stand-in counts: kernel launches, host syncs, host<->device copies, generators.

>>> import cupy
>>> with cupy.strict.counting() as seen:
...     y = cupy.tanh(x) + 1.0
>>> seen.launches, seen.syncs, seen.h2d, seen.d2h, seen.generators
(2, 0, 0, 0, 0)

Counting rules (what a real GPU would do for the same call, roughly):

* **launch**: every elementwise operation, reduction, matrix product, copy, fill, gather/scatter
  (fancy indexing, ``ufunc.at``), concatenation and random draw; one per call. Views (basic
  slicing, ``reshape`` of a contiguous array, ``.T``) and ``empty`` launch nothing.
* **sync**: the host waits for the device: ``float()``, ``int()``, ``bool()``, ``.item()``,
  ``.tolist()``, printing, ``.get()``, ``cupy.asnumpy``, boolean-mask indexing (the result's size
  must be read), ``Device().synchronize()``.
* **d2h / h2d**: explicit copies between host and device memory (``.get()``, ``cupy.asnumpy``,
  ``cupy.asarray(numpy_array)``, NumPy or list indices, ``x[:] = numpy_array``).
* **generators**: random bit generators created (each one initialises cuRAND state on a GPU).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

KINDS = ("launches", "syncs", "h2d", "d2h", "generators")


@dataclass
class Counts:
    """A set of counters; ``names`` lists the operations launched while recording is on."""

    launches: int = 0
    syncs: int = 0
    h2d: int = 0
    d2h: int = 0
    generators: int = 0
    names: list = field(default_factory=list)

    def __sub__(self, other: "Counts") -> "Counts":
        return Counts(*(getattr(self, k) - getattr(other, k) for k in KINDS),
                      names=self.names[len(other.names):])

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in KINDS}


class _Recorder:
    """The one global set of counters of the stand-in."""

    def __init__(self):
        self.totals = Counts()
        self.record_names = False

    def launch(self, name: str) -> None:
        self.totals.launches += 1
        if self.record_names:
            self.totals.names.append(name)

    def sync(self) -> None:
        self.totals.syncs += 1

    def copy_to_host(self) -> None:
        self.totals.d2h += 1
        self.totals.syncs += 1          # a device->host copy waits for the queued work

    def copy_to_device(self) -> None:
        self.totals.h2d += 1

    def generator(self) -> None:
        self.totals.generators += 1

    def snapshot(self) -> Counts:
        t = self.totals
        return Counts(t.launches, t.syncs, t.h2d, t.d2h, t.generators, list(t.names))

    def reset(self) -> None:
        self.totals = Counts()


recorder = _Recorder()


class Seen:
    """Filled in when a :func:`counting` block ends: the counts of what happened inside it."""

    def __init__(self):
        self.launches = self.syncs = self.h2d = self.d2h = self.generators = 0
        self.names: list = []

    def __repr__(self) -> str:
        return ("Seen(" + ", ".join(f"{k}={getattr(self, k)}" for k in KINDS) + ")")


@contextmanager
def counting(names: bool = False):
    """Count what the block does; ``names=True`` also records the name of every launch."""
    before = recorder.snapshot()
    previous = recorder.record_names
    recorder.record_names = names or previous
    seen = Seen()
    try:
        yield seen
    finally:
        delta = recorder.snapshot() - before
        recorder.record_names = previous
        for k in KINDS:
            setattr(seen, k, getattr(delta, k))
        seen.names = delta.names


def snapshot() -> Counts:
    """The counters so far (a copy)."""
    return recorder.snapshot()


def reset() -> None:
    """Set every counter back to zero."""
    recorder.reset()
