"""``cupy.cuda``: one fake device, events timed with the host clock, synchronisation counted."""
from __future__ import annotations

import time

from .._counters import recorder

NAME = "strict CuPy stand-in (NumPy on the host, no GPU)"


class CUDARuntimeError(RuntimeError):
    """Raised by the runtime functions (never, here: the fake device always answers)."""


class _Runtime:
    """``cupy.cuda.runtime``: the handful of queries the library and its scripts make."""

    CUDARuntimeError = CUDARuntimeError
    is_hip = False

    @staticmethod
    def getDeviceCount() -> int:  # noqa: N802 - the CUDA runtime's names
        return 1

    @staticmethod
    def getDevice() -> int:  # noqa: N802
        return 0

    @staticmethod
    def getDeviceProperties(device: int = 0) -> dict:  # noqa: N802
        return {"name": NAME.encode(), "totalGlobalMem": 0, "major": 0, "minor": 0,
                "multiProcessorCount": 0, "clockRate": 0}

    @staticmethod
    def runtimeGetVersion() -> int:  # noqa: N802
        return 0

    @staticmethod
    def driverGetVersion() -> int:  # noqa: N802
        return 0

    @staticmethod
    def deviceSynchronize() -> None:  # noqa: N802
        recorder.sync()


runtime = _Runtime()


class Device:
    """The one fake device."""

    def __init__(self, device: int = 0):
        if int(device) != 0:
            raise CUDARuntimeError(f"cudaErrorInvalidDevice: the stand-in has device 0 only, got {device}")
        self.id = 0

    compute_capability = "00"

    @property
    def mem_info(self):
        return (0, 0)

    def synchronize(self) -> None:
        recorder.sync()

    def use(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self) -> str:
        return "<CUDA Device 0 (strict stand-in)>"


class Stream:
    """A stream: work runs at once on the host, so it is always complete."""

    null: "Stream"

    def __init__(self, null: bool = False, non_blocking: bool = False):
        self.ptr = 0

    def synchronize(self) -> None:
        recorder.sync()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


Stream.null = Stream(null=True)


def get_current_stream() -> Stream:
    return Stream.null


class Event:
    """A timing event on the host clock (the stand-in computes eagerly: no GPU time to measure)."""

    def __init__(self, block: bool = False, disable_timing: bool = False, interprocess: bool = False):
        self.time = None

    def record(self, stream=None) -> None:
        self.time = time.perf_counter()

    def synchronize(self) -> None:
        recorder.sync()

    @property
    def done(self) -> bool:
        return True


def get_elapsed_time(start: Event, end: Event) -> float:
    """Milliseconds between two recorded events."""
    return (end.time - start.time) * 1e3


class _MemoryPool:
    """The memory pool's counters: the stand-in cannot measure device memory, so all zeros."""

    def used_bytes(self) -> int:
        return 0

    def total_bytes(self) -> int:
        return 0

    def free_all_blocks(self) -> None:
        pass


_pool = _MemoryPool()


def get_default_memory_pool() -> _MemoryPool:
    return _pool


def get_default_pinned_memory_pool() -> _MemoryPool:
    return _pool


def is_available() -> bool:
    return True
