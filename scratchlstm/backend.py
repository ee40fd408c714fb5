"""The one place where NumPy and CuPy are chosen.

Every other module of scratchlstm asks *this* module for an array module instead of importing
NumPy or CuPy itself:

* ``get_array_module(*arrays)`` returns ``numpy`` or ``cupy``, whichever owns the arrays. Functions
  written as ``xp = get_array_module(x)`` run unchanged on both devices.
* ``np`` is NumPy, the *host* array module, for work that always happens on the CPU (token ids,
  checkpoints, plots, weight initialisation).
* ``to_device(array, device)`` / ``to_host(array)`` are the explicit transfers. CuPy refuses to
  convert device arrays implicitly (``numpy.asarray(cupy_array)`` raises), so every crossing of the
  host/device boundary in the library goes through these two functions.

Devices are named ``"cpu"`` (NumPy), ``"cuda"`` (CuPy) and ``"auto"`` (CUDA when CuPy and a GPU are
present, else CPU). When no device is given, the environment variable ``SCRATCHLSTM_DEVICE`` decides,
and without it the default is ``"cpu"``.
"""
from __future__ import annotations

import os
from typing import Any

import numpy

#: The host array module. Modules other than this one import NumPy through this name.
np = numpy

#: A NumPy or a CuPy array (type hints only: the two share no base class).
Array = Any

DEVICES = ("cpu", "cuda", "auto")
ENV_DEVICE = "SCRATCHLSTM_DEVICE"

_cupy: Any = None           # the cupy module once imported successfully
_cupy_import_error: Exception | None = None


class DeviceError(RuntimeError):
    """The requested device cannot be used (CuPy missing, no GPU visible, unknown name)."""


def _load_cupy():
    """Import CuPy lazily (it is an optional dependency) and remember the outcome."""
    global _cupy, _cupy_import_error
    if _cupy is None and _cupy_import_error is None:
        try:
            import cupy  # noqa: PLC0415 - the optional GPU dependency, imported on demand
            _cupy = cupy
        except Exception as exc:  # ImportError, or a broken CUDA installation
            _cupy_import_error = exc
    return _cupy


def cupy_installed() -> bool:
    """True when CuPy can be imported."""
    return _load_cupy() is not None


def gpu_available() -> bool:
    """True when CuPy is installed *and* at least one CUDA device is visible."""
    cp = _load_cupy()
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _require_cupy():
    """Return the cupy module or raise a :class:`DeviceError` that says how to fix it."""
    cp = _load_cupy()
    if cp is None:
        raise DeviceError(
            "device 'cuda' needs CuPy, which could not be imported "
            f"({_cupy_import_error!r}). Install the GPU extra for your CUDA version (`nvidia-smi` "
            "shows it): `pip install scratchlstm[gpu-cuda12]` or `scratchlstm[gpu-cuda13]` "
            "(plain `pip install scratchlstm[gpu]` is the CUDA 12 build, which also runs with "
            "CUDA 13 drivers), or use device='cpu'.")
    if not gpu_available():
        raise DeviceError(
            "device 'cuda' was requested but no CUDA GPU is visible to CuPy. Check `nvidia-smi` "
            "and CUDA_VISIBLE_DEVICES, or use device='cpu' (or 'auto' to fall back silently).")
    return cp


def default_device() -> str:
    """The device used when none is given: ``$SCRATCHLSTM_DEVICE`` or ``"cpu"``."""
    return os.environ.get(ENV_DEVICE, "cpu").strip().lower() or "cpu"


def resolve_device(device: str | None = None) -> str:
    """Turn a device request into ``"cpu"`` or ``"cuda"``.

    Parameters
    ----------
    device : {"cpu", "cuda", "auto"} or None
        ``None`` reads ``$SCRATCHLSTM_DEVICE`` (default ``"cpu"``). ``"auto"`` picks ``"cuda"`` when
        CuPy and a GPU are available and ``"cpu"`` otherwise. ``"gpu"`` is accepted for ``"cuda"``.

    Raises
    ------
    ValueError
        For an unknown device name.
    DeviceError
        For ``"cuda"`` without CuPy or without a visible GPU.
    """
    requested = default_device() if device is None else device
    if not isinstance(requested, str):
        raise TypeError(f"device must be a string such as 'cpu', 'cuda' or 'auto', got {requested!r}")
    name = requested.strip().lower()
    if name == "gpu":
        name = "cuda"
    if name not in DEVICES:
        if device is None:
            raise ValueError(f"unknown device {requested!r} in ${ENV_DEVICE}; expected one of "
                             f"{DEVICES}. Set {ENV_DEVICE} to one of them (or unset it), or pass "
                             "a device explicitly (--device on the command line)")
        raise ValueError(f"unknown device {requested!r}; expected one of {DEVICES}")
    if name == "auto":
        return "cuda" if gpu_available() else "cpu"
    if name == "cuda":
        _require_cupy()
    return name


def xp_for(device: str | None = None) -> Any:
    """The array module (``numpy`` or ``cupy``) for a device name."""
    return _require_cupy() if resolve_device(device) == "cuda" else numpy


def is_device_array(array: Any) -> bool:
    """True for a CuPy (GPU) array."""
    return _cupy is not None and isinstance(array, _cupy.ndarray)


def get_array_module(*arrays: Any) -> Any:
    """Return ``cupy`` if any argument is a CuPy array, else ``numpy``.

    This is how device-agnostic code finds its functions: ``xp = get_array_module(x)`` then
    ``xp.tanh(x)``. Non-array arguments (``None``, Python numbers) are ignored.
    """
    for array in arrays:
        if is_device_array(array):
            return _cupy
    return numpy


def device_of(array: Any) -> str:
    """``"cuda"`` for a CuPy array, ``"cpu"`` for anything else."""
    return "cuda" if is_device_array(array) else "cpu"


def to_host(array: Any) -> "numpy.ndarray":
    """Copy an array to host memory as a NumPy array (a no-op for NumPy arrays)."""
    if is_device_array(array):
        return array.get()
    return numpy.asarray(array)


def to_device(array: Any, device: str | None = None, dtype: Any = None) -> Array:
    """Move (or copy) an array to ``device``, optionally casting it to ``dtype``.

    Arrays already on the right device with the right dtype are returned as they are (no copy).
    """
    target = resolve_device(device)
    if target == "cuda":
        cp = _require_cupy()
        out = cp.asarray(array)
    else:
        out = to_host(array)
    if dtype is not None and out.dtype != numpy.dtype(dtype):
        out = out.astype(dtype)
    return out


def synchronize(device: str | None = None) -> None:
    """Wait for queued GPU work to finish (a no-op on the CPU). Call before reading a timer."""
    if resolve_device(device) == "cuda":
        _require_cupy().cuda.Device().synchronize()


def default_rng(seed: int | None = None, device: str | None = None) -> Any:
    """A random Generator living on ``device``: NumPy's on the CPU, CuPy's on the GPU.

    The two draw different streams from the same seed, and creating a CuPy generator initialises
    cuRAND state on the device (costly: create one and keep it). The library itself needs none:
    weights come from a *host* NumPy generator, so both devices start identical, and dropout masks
    from :class:`scratchlstm.nn.counter_random.CounterRandom`, which has no state to create.
    """
    if resolve_device(device) == "cuda":
        return _require_cupy().random.default_rng(seed)
    return numpy.random.default_rng(seed)


def read_scalars(*values: Any) -> list[float]:
    """Host floats for scalars on any device, waiting for the GPU at most once.

    ``float(x)`` on a device scalar waits for all queued GPU work and copies one number; reading
    several that way waits several times. Here the device scalars are stacked on the device and
    copied in one transfer.

    Parameters
    ----------
    *values : 0-d arrays (NumPy or CuPy) or Python numbers

    Returns
    -------
    list of float, in the order given
    """
    on_device = [k for k, v in enumerate(values) if is_device_array(v)]
    out = [None if k in on_device else float(v) for k, v in enumerate(values)]
    if on_device:
        cp = _cupy
        stacked = cp.stack([cp.asarray(values[k], dtype=numpy.float64).reshape(()) for k in on_device])
        for k, value in zip(on_device, stacked.get().tolist()):
            out[k] = value
    return out


def kernel_cache_dir() -> Path:
    """Where CuPy keeps the CUDA kernels it compiled (``$CUPY_CACHE_DIR``, else
    ``~/.cupy/kernel_cache``): empty or missing means the next GPU run compiles them."""
    from pathlib import Path  # noqa: PLC0415

    return Path(os.environ.get("CUPY_CACHE_DIR") or Path.home() / ".cupy" / "kernel_cache")


def resolve_dtype(dtype: Any) -> "numpy.dtype":
    """Turn ``"float32"``, ``"float64"``, ``numpy.float32`` ... into a NumPy dtype (floats only)."""
    try:
        resolved = numpy.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from exc
    if resolved not in (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)):
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return resolved
