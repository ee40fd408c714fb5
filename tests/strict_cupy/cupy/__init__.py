"""A strict stand-in for CuPy, over NumPy, for proving the GPU code path on a machine without a GPU.

Put ``tests/strict_cupy`` first on ``sys.path`` (``PYTHONPATH=tests/strict_cupy:.``) and
``import cupy`` finds this package; ``scratchlstm.backend`` then sees one (fake) CUDA device and
runs ``device="cuda"`` through it, unchanged. The library does not know about it.

What it shows
-------------
It **raises where CuPy raises**:

* implicit conversion to the host: ``numpy.asarray(device_array)``, ``__array__``, and so
  ``numpy.savez``, ``json`` or NumPy functions given device arrays (TypeError);
* host arrays mixed into device maths: a binary operation, ufunc or function between a device
  array and a ``numpy.ndarray`` (0-d included) or a Python list (TypeError, "Unsupported type");
  ``a[...] = numpy_array`` (only ``a[:] = numpy_array`` copies, as in CuPy);
* NumPy-only functions and Generator methods: ``Generator.choice``, ``permutation``,
  ``shuffle``, ``normal`` and the other methods CuPy 14's Generator lacks (AttributeError), and
  any ``cupy.X`` this package does not provide (AttributeError naming it);
* ``cupyx.scatter_add`` / ``scatter_max`` / ``scatter_min`` and ``ndarray.scatter_add``:
  deprecated since CuPy 12, where they warn on every call; here they raise
  :class:`StrictCupyError` (use ``cupy.add.at``);
* ``ufunc.at`` / ``reduce`` / ``accumulate`` on ufuncs CuPy does not support them for.

It **counts** (see :mod:`cupy._counters`, exported as ``cupy.strict``): kernel launches (one per
elementwise operation, reduction, matrix product, copy, fill, gather, scatter, random draw),
host syncs (``float()``, ``int()``, ``bool()``, ``.item()``, printing, ``.get()``, mask indexing,
``synchronize()``: allowed, as in CuPy, but counted), host<->device copies, and random bit
generators created (each one initialises cuRAND state on a GPU).

What it cannot show
-------------------
* **Numerics of real kernels**: everything is computed by NumPy on the host. cuBLAS sums in
  another order, uses FMA, may use TF32 (torch) or other algorithms; results on a GPU differ from
  these by round-off, and only a real GPU can say by how much.
* **Speed**: a launch here costs a Python call, not 5-25 us of driver time; no timing taken
  through the stand-in means anything for a GPU.
* **Asynchrony and races**: operations run eagerly, in order, on one thread, so missing
  synchronisation, stream ordering bugs and write races (e.g. ``a[idx] += v`` with repeated
  indices, undefined on a GPU) cannot appear.
* **Compiled kernels**: ``ElementwiseKernel``, ``RawKernel``, ``fuse`` and friends raise; their
  CUDA source is never compiled or checked, and compilation time is not modelled.
* **Memory**: no device memory limit, no memory pool behaviour, no out-of-memory error; the pool
  reports zeros.
* **Coverage of CuPy**: only what this package provides. Something missing here may exist in
  CuPy (the error says so); behaviour copied here may drift from CuPy's newer releases. The dtype
  promotion rules are those of the NumPy underneath (CuPy 14 follows NumPy 2's).
"""
from __future__ import annotations

import numpy as _numpy

from . import _counters as strict  # noqa: F401 - the counters: cupy.strict.counting(), snapshot()
from . import cuda, random  # noqa: F401
from ._array import StrictCupyError, ndarray  # noqa: F401
from ._functions import *  # noqa: F401,F403
from ._functions import UFUNCS as _UFUNCS
from ._functions import (ElementwiseKernel, RawKernel, RawModule, ReductionKernel,  # noqa: F401
                         asnumpy, fuse, linalg, ufunc)

__version__ = "14.0.0+strict.standin"
__strict_standin__ = True

globals().update({name: u for name, u in _UFUNCS.items()})

# Types and constants are NumPy's own, as in CuPy.
from numpy import (bool_, complex64, complex128, dtype, e, finfo, float16, float32,  # noqa: E402,F401
                   float64, iinfo, inf, int8, int16, int32, int64, intp, nan, newaxis, pi,
                   result_type, can_cast, uint8, uint16, uint32, uint64, generic, number,
                   integer, floating, signedinteger, unsignedinteger, issubdtype)

bool = _numpy.bool_  # noqa: A001 - CuPy exports it too

#: Names NumPy has and CuPy does not, with what to use instead.
MISSING_IN_CUPY = {
    "errstate": "cupyx.errstate", "seterr": "cupyx.errstate", "nditer": "a vectorised expression",
    "frompyfunc": "cupy.ElementwiseKernel", "fromiter": "a NumPy array, then cupy.asarray",
    "loadtxt": "numpy.loadtxt, then cupy.asarray", "genfromtxt": "numpy.genfromtxt",
    "set_printoptions": "numpy.set_printoptions on host copies", "ma": "no masked arrays",
    "char": "no string arrays", "rec": "no record arrays", "savez": "numpy.savez on host copies",
}


def get_array_module(*args):
    """``cupy`` if any argument is a device array, else ``numpy`` (as CuPy's function)."""
    import sys  # noqa: PLC0415

    for a in args:
        if isinstance(a, ndarray):
            return sys.modules[__name__]
    return _numpy


def show_config() -> None:
    print(f"CuPy Version          : {__version__}\nDevice                : {cuda.NAME}")


def is_available() -> bool:
    return True


def __getattr__(name):
    if name in MISSING_IN_CUPY:
        raise AttributeError(f"module 'cupy' has no attribute '{name}' (CuPy has none; use "
                             f"{MISSING_IN_CUPY[name]})")
    raise AttributeError(
        f"module 'cupy' has no attribute '{name}' in the strict stand-in. CuPy may have it: "
        f"check CuPy's API reference, then add it to tests/strict_cupy/cupy with its CuPy "
        "behaviour (what it raises, launches and copies).")
