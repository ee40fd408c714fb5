"""``cupyx`` for the strict stand-in: the deprecated scatter functions raise.

``cupyx.scatter_add``, ``scatter_max`` and ``scatter_min`` are deprecated since CuPy 12 and warn
on every call (``cupy.scatter_add`` itself was removed in CuPy 8). A warning per training step is
a defect, so the stand-in refuses them outright.
"""
from __future__ import annotations

from cupy import StrictCupyError


def _deprecated(name: str, replacement: str):
    def refuse(*args, **kwargs):
        raise StrictCupyError(f"cupyx.{name} is deprecated since CuPy 12 and warns on every call: "
                              f"use {replacement}")

    refuse.__name__ = name
    return refuse


scatter_add = _deprecated("scatter_add", "cupy.add.at(array, indices, values)")
scatter_max = _deprecated("scatter_max", "cupy.maximum.at(array, indices, values)")
scatter_min = _deprecated("scatter_min", "cupy.minimum.at(array, indices, values)")


def __getattr__(name):
    raise AttributeError(f"cupyx.{name} is not provided by the strict stand-in")
