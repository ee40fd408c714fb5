"""The stand-in's functions: ufuncs, array creation, reductions, products and reshaping.

Each function checks its array arguments the way CuPy does (device arrays and scalars only),
counts its launches and copies, and computes with NumPy.
"""
from __future__ import annotations

import builtins

import numpy

from ._array import StrictCupyError, ndarray, operand, wrap
from ._counters import recorder

# ----------------------------------------------------------------------------------------------
# ufuncs
# ----------------------------------------------------------------------------------------------
#: ufunc methods CuPy implements (CuPy 12+): ``at`` for these ufuncs, ``reduce`` for add and
#: multiply, ``accumulate`` and ``reduceat`` for add; ``outer`` for all.
AT_SUPPORTED = {"add", "subtract", "maximum", "minimum", "bitwise_and", "bitwise_or", "bitwise_xor"}
REDUCE_SUPPORTED = {"add", "multiply"}
ACCUMULATE_SUPPORTED = {"add"}


class ufunc:  # noqa: N801 - the name CuPy uses
    """An elementwise device operation: one kernel launch per call."""

    def __init__(self, np_ufunc):
        self._np = np_ufunc
        self.__name__ = np_ufunc.__name__
        self.nin, self.nout = np_ufunc.nin, np_ufunc.nout

    def __repr__(self) -> str:
        return f"<ufunc '{self.__name__}'>"

    @staticmethod
    def _outs(out):
        if out is None:
            return None
        outs = out if isinstance(out, tuple) else (out,)
        for o in outs:
            if not isinstance(o, ndarray):
                raise TypeError(f"output arrays must be cupy.ndarray, got {type(o)}")
        return tuple(o._a for o in outs)

    def __call__(self, *args, out=None, dtype=None, casting="same_kind", where=None, **kwargs):
        inputs = [operand(a, f"cupy.{self.__name__}") for a in args]
        outs = self._outs(out)
        extra = {}
        if where is not None:
            extra["where"] = operand(where, f"cupy.{self.__name__}(where=)")
        if dtype is not None:
            extra["dtype"] = dtype
        recorder.launch(self.__name__)
        result = self._np(*inputs, out=outs, casting=casting, **extra, **kwargs)
        if out is not None:
            return out
        return wrap(result)

    def at(self, a, indices, b=None):
        if self.__name__ not in AT_SUPPORTED:
            raise NotImplementedError(f"cupy.{self.__name__}.at is not supported by CuPy "
                                      f"(only {sorted(AT_SUPPORTED)})")
        if not isinstance(a, ndarray):
            raise TypeError(f"{self.__name__}.at: the target must be a cupy.ndarray, got {type(a)}")
        if isinstance(indices, (list, numpy.ndarray)):
            recorder.copy_to_device()
            idx = numpy.asarray(indices)
        elif isinstance(indices, tuple):
            idx = tuple(operand(i, "ufunc.at indices") if not isinstance(i, slice) else i
                        for i in indices)
        elif isinstance(indices, slice):
            idx = indices
        else:
            idx = operand(indices, "ufunc.at indices")
        recorder.launch(f"{self.__name__}.at")
        if b is None:
            self._np.at(a._a, idx)
        else:
            self._np.at(a._a, idx, operand(b, f"{self.__name__}.at"))

    def reduce(self, a, axis=0, dtype=None, out=None, keepdims=False):
        if self.__name__ not in REDUCE_SUPPORTED:
            raise NotImplementedError(f"cupy.{self.__name__}.reduce is not supported by CuPy")
        recorder.launch(f"{self.__name__}.reduce")
        return wrap(self._np.reduce(operand(a), axis=axis, dtype=dtype, keepdims=keepdims))

    def accumulate(self, a, axis=0, dtype=None, out=None):
        if self.__name__ not in ACCUMULATE_SUPPORTED:
            raise NotImplementedError(f"cupy.{self.__name__}.accumulate is not supported by CuPy")
        recorder.launch(f"{self.__name__}.accumulate")
        return wrap(self._np.accumulate(operand(a), axis=axis, dtype=dtype))

    def outer(self, a, b, **kwargs):
        recorder.launch(f"{self.__name__}.outer")
        return wrap(self._np.outer(operand(a), operand(b), **kwargs))


UFUNC_NAMES = (
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "remainder", "mod",
    "power", "negative", "positive", "absolute", "abs", "sign", "sqrt", "square", "reciprocal",
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "logaddexp", "logaddexp2",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh",
    "arcsinh", "arccosh", "arctanh", "maximum", "minimum", "fmax", "fmin", "floor", "ceil",
    "trunc", "rint", "isfinite", "isinf", "isnan", "signbit", "copysign", "hypot",
    "less", "less_equal", "greater", "greater_equal", "equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "invert", "bitwise_not", "left_shift", "right_shift", "conjugate", "conj",
    "fabs", "float_power", "fmod",
)
UFUNCS = {}
for _name in UFUNC_NAMES:
    _u = ufunc(getattr(numpy, _name))
    UFUNCS[_name] = _u
    UFUNCS[_u.__name__] = _u


# ----------------------------------------------------------------------------------------------
# Creation
# ----------------------------------------------------------------------------------------------
def empty(shape, dtype=float, order="C"):
    return wrap(numpy.empty(shape, dtype=dtype, order=order))


def empty_like(a, dtype=None, order="K", subok=None, shape=None):
    return wrap(numpy.empty_like(operand(a, "empty_like"), dtype=dtype, order=order, shape=shape))


def zeros(shape, dtype=float, order="C"):
    recorder.launch("zeros")
    return wrap(numpy.zeros(shape, dtype=dtype, order=order))


def zeros_like(a, dtype=None, order="K", subok=None, shape=None):
    recorder.launch("zeros_like")
    return wrap(numpy.zeros_like(operand(a, "zeros_like"), dtype=dtype, order=order, shape=shape))


def ones(shape, dtype=float, order="C"):
    recorder.launch("ones")
    return wrap(numpy.ones(shape, dtype=dtype, order=order))


def ones_like(a, dtype=None, order="K", subok=None, shape=None):
    recorder.launch("ones_like")
    return wrap(numpy.ones_like(operand(a, "ones_like"), dtype=dtype, order=order, shape=shape))


def full(shape, fill_value, dtype=None, order="C"):
    recorder.launch("full")
    return wrap(numpy.full(shape, operand(fill_value, "full"), dtype=dtype, order=order))


def full_like(a, fill_value, dtype=None, order="K", subok=None, shape=None):
    recorder.launch("full_like")
    return wrap(numpy.full_like(operand(a, "full_like"), operand(fill_value, "full_like"),
                                dtype=dtype, order=order, shape=shape))


def arange(start, stop=None, step=1, dtype=None):
    recorder.launch("arange")
    if stop is None:
        return wrap(numpy.arange(start, step=step, dtype=dtype))
    return wrap(numpy.arange(start, stop, step, dtype=dtype))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    recorder.launch("linspace")
    return wrap(numpy.linspace(start, stop, num, endpoint=endpoint, dtype=dtype, axis=axis))


def eye(N, M=None, k=0, dtype=float, order="C"):  # noqa: N803 - NumPy's names
    recorder.launch("eye")
    return wrap(numpy.eye(N, M, k, dtype=dtype, order=order))


def asarray(a, dtype=None, order=None, blocking=False):
    """Device arrays pass through (a cast is a launch); anything else is a host->device copy."""
    if isinstance(a, ndarray):
        if dtype is None or numpy.dtype(dtype) == a.dtype:
            return a
        return a.astype(dtype)
    if isinstance(a, (list, tuple)) and builtins.any(isinstance(v, ndarray) for v in _flatten(a)):
        raise TypeError("Implicit conversion to a NumPy array is not allowed: CuPy cannot build "
                        "an array from a list holding device arrays (use cupy.stack)")
    recorder.copy_to_device()
    return wrap(numpy.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
    if isinstance(obj, ndarray):
        if not copy and (dtype is None or numpy.dtype(dtype) == obj.dtype):
            return obj
        recorder.launch("copy")
        return wrap(numpy.array(obj._a, dtype=dtype, copy=True, order=order, ndmin=ndmin))
    out = asarray(obj, dtype=dtype)
    return wrap(numpy.array(out._a, ndmin=ndmin, copy=False)) if ndmin else out


def _flatten(items):
    for v in items:
        if isinstance(v, (list, tuple)):
            yield from _flatten(v)
        else:
            yield v


def ascontiguousarray(a, dtype=None):
    x = operand(a, "ascontiguousarray")
    result = numpy.ascontiguousarray(x, dtype=dtype)
    if result is not x:
        recorder.launch("ascontiguousarray")
    return wrap(result, a)


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """Copy a device array to the host (counted); host values pass through as NumPy arrays."""
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return numpy.asarray(a, order=order)


def copy(a, order="K"):
    recorder.launch("copy")
    return wrap(numpy.copy(operand(a, "copy"), order=order))


# ----------------------------------------------------------------------------------------------
# Products, reductions and friends: one launch per call
# ----------------------------------------------------------------------------------------------
def _counted(name, np_func, array_args=1):
    def function(*args, out=None, **kwargs):
        arrays = [operand(a, f"cupy.{name}") for a in args[:array_args]]
        rest = args[array_args:]
        if out is not None:
            kwargs["out"] = operand(out, f"cupy.{name}(out=)")
        recorder.launch(name)
        result = np_func(*arrays, *rest, **kwargs)
        return out if out is not None else wrap(result)

    function.__name__ = name
    return function


matmul = _counted("matmul", numpy.matmul, 2)
dot = _counted("dot", numpy.dot, 2)
vdot = _counted("vdot", numpy.vdot, 2)
inner = _counted("inner", numpy.inner, 2)
outer = _counted("outer", numpy.outer, 2)
tensordot = _counted("tensordot", numpy.tensordot, 2)
sum = _counted("sum", numpy.sum)  # noqa: A001 - NumPy's names
prod = _counted("prod", numpy.prod)
mean = _counted("mean", numpy.mean)
var = _counted("var", numpy.var)
std = _counted("std", numpy.std)
amax = max = _counted("max", numpy.max)  # noqa: A001
amin = min = _counted("min", numpy.min)  # noqa: A001
argmax = _counted("argmax", numpy.argmax)
argmin = _counted("argmin", numpy.argmin)
all = _counted("all", numpy.all)  # noqa: A001
any = _counted("any", numpy.any)  # noqa: A001
cumsum = _counted("cumsum", numpy.cumsum)
cumprod = _counted("cumprod", numpy.cumprod)
sort = _counted("sort", numpy.sort)
argsort = _counted("argsort", numpy.argsort)
count_nonzero = _counted("count_nonzero", numpy.count_nonzero)
searchsorted = _counted("searchsorted", numpy.searchsorted, 2)
where = _counted("where", numpy.where, 3)
bincount = _counted("bincount", numpy.bincount)
take = _counted("take", numpy.take, 2)
allclose = _counted("allclose", numpy.allclose, 2)
isclose = _counted("isclose", numpy.isclose, 2)
array_equal = _counted("array_equal", numpy.array_equal, 2)
around = round = _counted("round", numpy.round)  # noqa: A001
nan_to_num = _counted("nan_to_num", numpy.nan_to_num)
triu = _counted("triu", numpy.triu)       # cupy.triu(m, k=0), one kernel
tril = _counted("tril", numpy.tril)


def clip(a, a_min=None, a_max=None, out=None):
    bounds = [None if v is None else operand(v, "cupy.clip") for v in (a_min, a_max)]
    recorder.launch("clip")
    result = numpy.clip(operand(a, "cupy.clip"), *bounds,
                        out=None if out is None else operand(out, "cupy.clip(out=)"))
    return out if out is not None else wrap(result)


def concatenate(arrays, axis=0, out=None, dtype=None):
    parts = [operand(a, "cupy.concatenate") for a in arrays]
    recorder.launch("concatenate")
    result = numpy.concatenate(parts, axis=axis, out=None if out is None else operand(out), dtype=dtype)
    return out if out is not None else wrap(result)


def stack(arrays, axis=0, out=None, dtype=None):
    parts = [operand(a, "cupy.stack") for a in arrays]
    recorder.launch("stack")
    result = numpy.stack(parts, axis=axis, out=None if out is None else operand(out), dtype=dtype)
    return out if out is not None else wrap(result)


# ----------------------------------------------------------------------------------------------
# Views and shapes (no launch unless NumPy had to copy)
# ----------------------------------------------------------------------------------------------
def reshape(a, newshape, order="C"):
    return a.reshape(newshape, order=order) if isinstance(a, ndarray) else _refuse(a, "reshape")


def ravel(a, order="C"):
    return a.ravel(order) if isinstance(a, ndarray) else _refuse(a, "ravel")


def transpose(a, axes=None):
    return wrap(numpy.transpose(operand(a, "transpose"), axes), a)


def swapaxes(a, axis1, axis2):
    return wrap(numpy.swapaxes(operand(a, "swapaxes"), axis1, axis2), a)


def expand_dims(a, axis):
    return wrap(numpy.expand_dims(operand(a, "expand_dims"), axis), a)


def squeeze(a, axis=None):
    return wrap(numpy.squeeze(operand(a, "squeeze"), axis), a)


def broadcast_to(a, shape):
    return wrap(numpy.broadcast_to(operand(a, "broadcast_to"), shape), a)


def atleast_1d(*arrays):
    result = [wrap(numpy.atleast_1d(operand(a, "atleast_1d")), a) for a in arrays]
    return result[0] if len(result) == 1 else result


def shape(a):
    return operand(a, "shape").shape if isinstance(a, ndarray) else numpy.shape(a)


def ndim(a):
    return a.ndim if isinstance(a, ndarray) else numpy.ndim(a)


def size(a, axis=None):
    return operand(a).size if axis is None else operand(a).shape[axis]


def _refuse(value, name):
    raise TypeError(f"cupy.{name} needs a cupy.ndarray, got {type(value)} (CuPy does not convert "
                    "host arrays implicitly)")


def unravel_index(indices, shape_, order="C"):
    recorder.launch("unravel_index")
    return wrap(numpy.unravel_index(operand(indices, "unravel_index"), shape_, order=order))


class _Linalg:
    """``cupy.linalg``: the norm (other routines are not provided by the stand-in)."""

    @staticmethod
    def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002 - NumPy's name
        recorder.launch("linalg.norm")
        return wrap(numpy.linalg.norm(operand(x, "cupy.linalg.norm"), ord=ord, axis=axis,
                                      keepdims=keepdims))

    def __getattr__(self, name):
        raise AttributeError(f"cupy.linalg.{name} is not provided by the strict stand-in")


linalg = _Linalg()


# ----------------------------------------------------------------------------------------------
# What the stand-in cannot do: compile kernels
# ----------------------------------------------------------------------------------------------
def _cannot_compile(what):
    def refuse(*args, **kwargs):
        raise StrictCupyError(
            f"cupy.{what}: the strict stand-in cannot compile or run CUDA kernels. Code that "
            "uses hand-written kernels needs a reference path for the stand-in, and a test on a "
            "real GPU.")

    refuse.__name__ = what
    return refuse


ElementwiseKernel = _cannot_compile("ElementwiseKernel")
ReductionKernel = _cannot_compile("ReductionKernel")
RawKernel = _cannot_compile("RawKernel")
RawModule = _cannot_compile("RawModule")
fuse = _cannot_compile("fuse")


__all__ = [name for name, value in list(globals().items())
           if not name.startswith("_") and name not in {
               "annotations", "builtins", "numpy", "StrictCupyError", "ndarray", "operand", "wrap",
               "recorder", "AT_SUPPORTED", "REDUCE_SUPPORTED", "ACCUMULATE_SUPPORTED", "UFUNC_NAMES",
               "UFUNCS"}]
