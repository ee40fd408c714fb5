"""The stand-in's ``ndarray``: a NumPy array in host memory that behaves like device memory.

It refuses what CuPy refuses (implicit conversion to NumPy, host arrays in device maths) and
reports to :mod:`cupy._counters` what a GPU would have to do (launches, syncs, copies).
"""
from __future__ import annotations

import numbers

import numpy

from ._counters import recorder

#: Python and NumPy scalars may be mixed into device maths (CuPy passes them as kernel arguments).
SCALARS = (numbers.Number, numpy.generic)


class StrictCupyError(RuntimeError):
    """Something real CuPy would do badly (warn on every call, or not do at all): refused here."""


def _host_array_error(value, where: str) -> TypeError:
    return TypeError(
        f"Unsupported type {type(value)} in {where}: CuPy refuses to mix a host (NumPy) array or "
        "a Python list into device maths. Move it explicitly first (scratchlstm.backend.to_device "
        "or cupy.asarray).")


def operand(value, where: str = "a device operation"):
    """The NumPy value behind one argument of a device operation, or TypeError like CuPy."""
    if isinstance(value, ndarray):
        return value._a
    if isinstance(value, SCALARS):
        return value
    raise _host_array_error(value, where)


def _root(array: "ndarray") -> "ndarray":
    return array._base if array._base is not None else array


def wrap(result, *sources):
    """Turn a NumPy result into a stand-in array.

    The result is the very array of a source (returned as that source), a view of a source
    (``base`` is the source's owner, like CuPy), or new memory (``base`` None). Scalars become
    0-d arrays: CuPy never returns a host scalar from a device operation.
    """
    if isinstance(result, tuple):
        return tuple(wrap(r, *sources) for r in result)
    if not isinstance(result, numpy.ndarray):
        result = numpy.asarray(result)
    for src in sources:
        if isinstance(src, ndarray):
            if result is src._a:
                return src
            if result.base is not None and numpy.may_share_memory(result, src._a):
                return ndarray._wrap(result, _root(src))
    return ndarray._wrap(result, None)


def _index(key):
    """NumPy index for a CuPy-style index; counts the copies and syncs a GPU would need."""
    if isinstance(key, tuple):
        return tuple(_index_part(k) for k in key)
    return _index_part(key)


def _index_part(k):
    if isinstance(k, ndarray):
        if k.dtype == numpy.bool_:
            recorder.sync()                 # the size of a masked result must be read back
        return k._a
    if isinstance(k, (list, numpy.ndarray)):
        recorder.copy_to_device()           # CuPy copies NumPy/list indices to the device
        arr = numpy.asarray(k)
        if arr.dtype == numpy.bool_:
            recorder.sync()
        return arr
    return k


def _is_basic(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return all(p is None or p is Ellipsis or isinstance(p, (slice, numbers.Integral, numpy.integer))
               and not isinstance(p, (bool, numpy.bool_)) for p in parts)


def _full_integer_index(key, ndim: int) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return (len(parts) == ndim
            and all(isinstance(p, (numbers.Integral, numpy.integer)) for p in parts))


class Flags:
    """``ndarray.flags``: contiguity and ownership."""

    def __init__(self, array: "ndarray"):
        self._array = array

    @property
    def c_contiguous(self) -> bool:
        return bool(self._array._a.flags.c_contiguous)

    @property
    def f_contiguous(self) -> bool:
        return bool(self._array._a.flags.f_contiguous)

    @property
    def owndata(self) -> bool:
        return self._array._base is None

    def __getitem__(self, name: str) -> bool:
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[name.upper()]


class ndarray:  # noqa: N801 - the name CuPy uses
    """An array in (pretend) device memory. See the package docstring for what it checks."""

    __array_priority__ = 100.0
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise StrictCupyError("the stand-in cannot build an ndarray on raw device memory")
        self._a = numpy.empty(shape, dtype=dtype, order=order)
        self._base = None

    @classmethod
    def _wrap(cls, a: numpy.ndarray, base):
        obj = cls.__new__(cls)
        obj._a = a
        obj._base = base
        return obj

    # -- what CuPy refuses ----------------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed (CuPy refuses it). "
                        "Copy explicitly with .get(), cupy.asnumpy() or scratchlstm.backend.to_host().")

    def scatter_add(self, *args, **kwargs):
        raise StrictCupyError("ndarray.scatter_add is deprecated since CuPy 12 (it warns on every "
                              "call): use cupy.add.at(array, indices, values)")

    # -- NumPy's protocols: numpy.tanh(device_array) runs on the device, as in CuPy ------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from . import _functions  # noqa: PLC0415 - the functions module imports this one

        ours = _functions.UFUNCS.get(ufunc.__name__)
        if ours is None:
            return NotImplemented
        if method == "__call__":
            return ours(*inputs, **kwargs)
        fn = getattr(ours, method, None)
        return NotImplemented if fn is None else fn(*inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        import cupy  # noqa: PLC0415 - the package, to look the function up by name

        # numpy.X -> cupy.X, numpy.linalg.X -> cupy.linalg.X; NotImplemented (so NumPy raises
        # TypeError) when the stand-in has no such function, as CuPy does for what it lacks.
        namespace = cupy.linalg if (func.__module__ or "").startswith("numpy.linalg") else cupy
        try:
            ours = getattr(namespace, func.__name__)
        except AttributeError:
            return NotImplemented
        return ours(*args, **kwargs) if callable(ours) else NotImplemented

    # -- attributes ---------------------------------------------------------------------------
    @property
    def shape(self):
        return self._a.shape

    @shape.setter
    def shape(self, value):
        self._a.shape = value

    @property
    def dtype(self):
        return self._a.dtype

    @property
    def ndim(self) -> int:
        return self._a.ndim

    @property
    def size(self) -> int:
        return self._a.size

    @property
    def nbytes(self) -> int:
        return self._a.nbytes

    @property
    def itemsize(self) -> int:
        return self._a.itemsize

    @property
    def strides(self):
        return self._a.strides

    @property
    def flags(self) -> Flags:
        return Flags(self)

    @property
    def base(self):
        return self._base

    @property
    def device(self):
        from .cuda import Device  # noqa: PLC0415

        return Device(0)

    @property
    def T(self) -> "ndarray":  # noqa: N802 - NumPy's name
        return wrap(self._a.T, self)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        for k in range(len(self._a)):
            yield self[k]

    # -- reading back: allowed, and counted --------------------------------------------------
    def get(self, stream=None, order="C", out=None):
        """Copy to a NumPy array: a device->host copy (and a wait)."""
        recorder.copy_to_host()
        host = numpy.array(self._a, order=order, copy=True)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None) -> None:
        """Copy a NumPy array of the same shape into this array: a host->device copy."""
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"set() takes a numpy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError(f"shape mismatch: {arr.shape} != {self.shape}")
        recorder.copy_to_device()
        self._a[...] = arr

    def item(self):
        recorder.sync()
        return self._a.item()

    def tolist(self):
        recorder.copy_to_host()
        return self._a.tolist()

    def __float__(self) -> float:
        recorder.sync()
        return float(self._a)

    def __int__(self) -> int:
        recorder.sync()
        return int(self._a)

    def __complex__(self) -> complex:
        recorder.sync()
        return complex(self._a)

    def __bool__(self) -> bool:
        if self._a.size != 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        recorder.sync()
        return bool(self._a)

    def __repr__(self) -> str:
        recorder.copy_to_host()
        return repr(self._a)

    def __str__(self) -> str:
        recorder.copy_to_host()
        return str(self._a)

    def __format__(self, spec: str) -> str:
        recorder.copy_to_host()
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    # -- indexing -----------------------------------------------------------------------------
    def __getitem__(self, key):
        if _is_basic(key):
            if _full_integer_index(key, self.ndim):
                key = (key if isinstance(key, tuple) else (key,)) + (Ellipsis,)   # a 0-d view
            return wrap(self._a[key], self)
        recorder.launch("take")
        return wrap(self._a[_index(key)])

    def __setitem__(self, key, value):
        if isinstance(value, numpy.ndarray) and value.ndim > 0:
            if not (isinstance(key, slice) and key == slice(None)):
                raise ValueError("non-scalar numpy.ndarray cannot be used for fill (CuPy copies a "
                                 "host array only into a[:] of the same shape; use to_device first)")
            recorder.copy_to_device()
            self._a[...] = value
            return
        if isinstance(value, (list, tuple)):
            raise ValueError("CuPy cannot fill from a Python list or tuple: convert it with "
                             "cupy.asarray first")
        recorder.launch("setitem" if _is_basic(key) else "scatter")
        self._a[_index(key)] = operand(value, "__setitem__")

    # -- methods that compute ----------------------------------------------------------------
    def copy(self, order="C") -> "ndarray":
        recorder.launch("copy")
        return wrap(self._a.copy(order=order))

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True) -> "ndarray":
        if not copy and numpy.dtype(dtype) == self.dtype:
            return self
        recorder.launch("astype")
        return wrap(self._a.astype(dtype, order=order))

    def fill(self, value) -> None:
        recorder.launch("fill")
        self._a.fill(operand(value, "fill"))

    def reshape(self, *shape, order="C") -> "ndarray":
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        result = self._a.reshape(shape, order=order)
        if not numpy.may_share_memory(result, self._a):
            recorder.launch("reshape-copy")
        return wrap(result, self)

    def ravel(self, order="C") -> "ndarray":
        return self.reshape(-1, order=order)

    def flatten(self) -> "ndarray":
        return self.copy().reshape(-1)

    def transpose(self, *axes) -> "ndarray":
        return wrap(self._a.transpose(*axes), self)

    def swapaxes(self, a: int, b: int) -> "ndarray":
        return wrap(self._a.swapaxes(a, b), self)

    def squeeze(self, axis=None) -> "ndarray":
        return wrap(self._a.squeeze(axis), self)

    def view(self, dtype=None) -> "ndarray":
        return wrap(self._a.view() if dtype is None else self._a.view(dtype), self)

    def _reduce(self, name, *args, **kwargs):
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = operand(out, name)
        recorder.launch(name)
        result = getattr(self._a, name)(*args, **kwargs)
        return out if out is not None else wrap(result)

    def sum(self, *a, **k):
        return self._reduce("sum", *a, **k)

    def mean(self, *a, **k):
        return self._reduce("mean", *a, **k)

    def max(self, *a, **k):
        return self._reduce("max", *a, **k)

    def min(self, *a, **k):
        return self._reduce("min", *a, **k)

    def prod(self, *a, **k):
        return self._reduce("prod", *a, **k)

    def argmax(self, *a, **k):
        return self._reduce("argmax", *a, **k)

    def argmin(self, *a, **k):
        return self._reduce("argmin", *a, **k)

    def all(self, *a, **k):
        return self._reduce("all", *a, **k)

    def any(self, *a, **k):
        return self._reduce("any", *a, **k)

    def cumsum(self, *a, **k):
        return self._reduce("cumsum", *a, **k)

    def var(self, *a, **k):
        return self._reduce("var", *a, **k)

    def std(self, *a, **k):
        return self._reduce("std", *a, **k)

    def dot(self, other, out=None):
        from . import _functions  # noqa: PLC0415

        return _functions.dot(self, other, out=out)

    def clip(self, a_min=None, a_max=None, out=None):
        from . import _functions  # noqa: PLC0415

        return _functions.clip(self, a_min, a_max, out=out)

    def take(self, indices, axis=None):
        recorder.launch("take")
        return wrap(self._a.take(operand(indices, "take"), axis=axis))

    def nonzero(self):
        recorder.sync()
        recorder.launch("nonzero")
        return wrap(self._a.nonzero())

    def argsort(self, axis=-1):
        recorder.launch("argsort")
        return wrap(self._a.argsort(axis=axis))

    def sort(self, axis=-1) -> None:
        recorder.launch("sort")
        self._a.sort(axis=axis)


def _binary(name: str, reflected: bool = False, inplace: bool = False):
    def method(self, other):
        from . import _functions  # noqa: PLC0415

        fn = _functions.UFUNCS[name]
        if inplace:
            return fn(self, other, out=self)
        return fn(other, self) if reflected else fn(self, other)

    method.__name__ = name
    return method


def _unary(name: str):
    def method(self):
        from . import _functions  # noqa: PLC0415

        return _functions.UFUNCS[name](self)

    method.__name__ = name
    return method


for _dunder, _ufunc in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"),
                        ("truediv", "true_divide"), ("floordiv", "floor_divide"),
                        ("mod", "remainder"), ("pow", "power"), ("and", "bitwise_and"),
                        ("or", "bitwise_or"), ("xor", "bitwise_xor"), ("lshift", "left_shift"),
                        ("rshift", "right_shift")):
    setattr(ndarray, f"__{_dunder}__", _binary(_ufunc))
    setattr(ndarray, f"__r{_dunder}__", _binary(_ufunc, reflected=True))
    setattr(ndarray, f"__i{_dunder}__", _binary(_ufunc, inplace=True))
for _dunder, _ufunc in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"),
                        ("ge", "greater_equal"), ("eq", "equal"), ("ne", "not_equal")):
    setattr(ndarray, f"__{_dunder}__", _binary(_ufunc))
for _dunder, _ufunc in (("neg", "negative"), ("pos", "positive"), ("abs", "absolute"),
                        ("invert", "invert")):
    setattr(ndarray, f"__{_dunder}__", _unary(_ufunc))


def _matmul(self, other):
    from . import _functions  # noqa: PLC0415

    return _functions.matmul(self, other)


def _rmatmul(self, other):
    from . import _functions  # noqa: PLC0415

    return _functions.matmul(other, self)


def _imatmul(self, other):
    from . import _functions  # noqa: PLC0415

    return _functions.matmul(self, other, out=self)


ndarray.__matmul__ = _matmul
ndarray.__rmatmul__ = _rmatmul
ndarray.__imatmul__ = _imatmul
