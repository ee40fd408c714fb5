"""Lesson 1 exercises: arrays on two devices and the backend switch."""
import ast
from pathlib import Path

import numpy
import pytest

from scratchlstm import backend
from scratchlstm.solutions import normalize_rows
from scratchlstm.backend import (DeviceError, get_array_module, resolve_device,
                                 to_device, to_host)

PACKAGE = Path(__file__).resolve().parents[1] / "scratchlstm"


def test_only_backend_imports_numpy_or_cupy():
    """Which modules may import NumPy or CuPy by name?

    Only ``scratchlstm/backend.py``. Every other module asks for ``xp`` so that one flag moves a
    whole model between devices. We parse every source file and look at its import statements.
    """
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "backend.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("numpy", "cupy", "cupyx"):
                    offenders.append(f"{path.relative_to(PACKAGE)}: import {name}")
    assert offenders == []


def test_cpu_is_numpy():
    """What array module runs a model on device 'cpu'? NumPy, and its arrays stay NumPy arrays."""
    assert backend.xp_for("cpu") is numpy
    x = to_device(numpy.arange(3.0), "cpu")
    assert get_array_module(x) is numpy
    assert backend.device_of(x) == "cpu"


def test_device_names_are_checked():
    """What does a typo in the device name give? A ValueError that lists the valid names."""
    with pytest.raises(ValueError, match="expected one of"):
        resolve_device("tpu")


def test_environment_variable_sets_the_default(monkeypatch):
    """Where does the default device come from? ``$SCRATCHLSTM_DEVICE``, else 'cpu'."""
    monkeypatch.delenv("SCRATCHLSTM_DEVICE", raising=False)
    assert resolve_device(None) == "cpu"
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "auto")
    assert resolve_device(None) == ("cuda" if backend.gpu_available() else "cpu")
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "quantum")
    with pytest.raises(ValueError, match="SCRATCHLSTM_DEVICE"):
        resolve_device(None)


def test_auto_falls_back_to_cpu_without_a_gpu():
    """'auto' never fails: it is 'cuda' with a usable GPU and 'cpu' otherwise."""
    assert resolve_device("auto") == ("cuda" if backend.gpu_available() else "cpu")


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_says_what_to_do():
    """Asking for 'cuda' on a machine without CuPy or a GPU must say how to fix it."""
    with pytest.raises(DeviceError) as err:
        resolve_device("cuda")
    message = str(err.value)
    assert "pip install scratchlstm[gpu]" in message or "no CUDA GPU" in message


def test_to_host_returns_numpy():
    """to_host turns anything array-like into a NumPy array without copying NumPy input."""
    a = numpy.ones(4)
    assert to_host(a) is a
    assert isinstance(to_host([1, 2]), numpy.ndarray)


def test_to_device_casts_dtype():
    """to_device can cast on the way: float64 -> float32 halves the bytes."""
    a = numpy.ones(4, dtype=numpy.float64)
    assert to_device(a, "cpu", "float32").dtype == numpy.float32


def test_scatter_add_accumulates_repeated_indices():
    """Why not ``W[idx] += g``? With idx = [1, 1, 3], row 1 must receive *both* updates.

    Fancy-index assignment applies only one of the repeated writes; the unbuffered
    ``numpy.add.at`` (a scatter-add) applies all,
    so row 1 gets 1 + 2 = 3 and row 3 gets 5.
    """
    W = numpy.zeros((4, 2))
    idx = numpy.array([1, 1, 3])
    g = numpy.array([[1.0, 1.0], [2.0, 2.0], [5.0, 5.0]])
    wrong = W.copy()
    wrong[idx] += g
    numpy.add.at(W, idx, g)
    assert W.tolist() == [[0, 0], [3, 3], [0, 0], [5, 5]]
    assert wrong[1].tolist() == [2, 2]          # the bug the scatter-add avoids


def test_resolve_dtype_accepts_only_floats():
    """Parameters are float32 (training) or float64 (gradient checks); int8 is refused."""
    assert backend.resolve_dtype("float64") == numpy.float64
    with pytest.raises(TypeError, match="float32"):
        backend.resolve_dtype("int8")


# ------------------------------------------------------------------------------------------------
# Worked solutions of the exercises at the end of lessons/01_arrays_on_two_devices.ipynb
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exercise_1_1_device_agnosticnormalize_rows(rng, dtype):
    """Exercise 1.1: write ``normalize_rows(x)`` without naming NumPy, using
    ``xp = get_array_module(x)``; every row of the result has length 1, the dtype is kept, and a
    CuPy input gives a CuPy output equal to the CPU result.

    Why it works: ``(x * x).sum(axis=1, keepdims=True)`` has shape (N, 1), so the division
    broadcasts one length over each row; every operation keeps the dtype of ``x``. Lengths are 1
    to about the dtype's epsilon (float32: ~1e-7), so the tolerance follows the dtype.
    """
    x = rng.standard_normal((6, 5)).astype(dtype)
    y = normalize_rows(x)
    assert y.dtype == numpy.dtype(dtype)
    assert get_array_module(y) is numpy
    tol = 10 * numpy.finfo(dtype).eps
    assert numpy.allclose(numpy.linalg.norm(y, axis=1), 1.0, rtol=0, atol=tol)
    # The direction is unchanged: y is x divided by a positive number per row.
    assert numpy.allclose(y * numpy.linalg.norm(x, axis=1, keepdims=True), x, rtol=1e-5)
    if backend.gpu_available():
        y_gpu = normalize_rows(to_device(x, "cuda"))
        assert backend.device_of(y_gpu) == "cuda"
        assert numpy.allclose(to_host(y_gpu), y, rtol=1e-5, atol=tol)


def test_exercise_1_2_machine_epsilon_by_halving():
    """Exercise 1.2: halve ``e`` (starting at 1) while ``1 + e/2 != 1`` in the dtype; you land on
    machine epsilon, 2**-23 for float32 and 2**-52 for float64, equal to ``np.finfo(dtype).eps``.
    And ``float32(1e8) + 1 == float32(1e8)``.

    Why: float32 keeps 24 significant bits (23 stored + 1 implicit), so the next number after 1
    is 1 + 2**-23; 1 + 2**-24 lies exactly halfway and rounds to even, i.e. back to 1. Near
    1e8 (between 2**26 and 2**27) consecutive float32 numbers are 2**(26-23) = 8 apart, so
    adding 1 rounds back to 1e8.
    """
    found = {}
    for dtype in (numpy.float32, numpy.float64):
        one, e = dtype(1), dtype(1)
        while one + e / dtype(2) != one:
            e = e / dtype(2)
        found[dtype] = e
        assert e == numpy.finfo(dtype).eps
    assert found[numpy.float32] == 2.0 ** -23
    assert found[numpy.float64] == 2.0 ** -52
    big = numpy.float32(1e8)
    assert big + numpy.float32(1) == big
    assert numpy.spacing(big) == 8.0
    assert numpy.float64(1e8) + 1 != numpy.float64(1e8)


def test_exercise_1_3_embedding_gradient_of_ones_is_a_count(rng):
    """Exercise 1.3: with an upstream gradient of ones (N, D), row v of the embedding gradient is
    the number of times id v occurs, in every column: ``np.bincount``. ``numpy.add.at`` gives
    exactly that; ``dW[ids] += g`` gives ``min(count, 1)``.

    Why: add.at adds one row of ones per occurrence; the buffered ``+=`` reads the rows once,
    adds, and writes them back, so repeated rows are overwritten instead of accumulated.
    """
    V, N, D = 7, 50, 3
    ids = rng.integers(0, V, size=N)
    g = numpy.ones((N, D))
    counts = numpy.bincount(ids, minlength=V)
    assert counts.max() > 1                        # the batch does repeat ids
    dW = numpy.zeros((V, D))
    numpy.add.at(dW, ids, g)
    assert numpy.array_equal(dW, numpy.repeat(counts[:, None], D, axis=1).astype(float))
    naive = numpy.zeros((V, D))
    naive[ids] += g
    assert numpy.array_equal(naive[:, 0], numpy.minimum(counts, 1).astype(float))


def test_exercise_1_4_to_device_copies_only_when_it_must():
    """Exercise 1.4: ``to_device(a, "cpu")`` returns ``a`` itself (writing into it changes ``a``);
    ``to_device(a, "cpu", dtype="float64")`` must convert, so it is a new array and writing into
    it leaves ``a`` alone.

    Why: an array already on the requested device with the requested dtype needs no work, and
    returning it unchanged avoids copying large parameter matrices for nothing. A cast cannot
    happen in place (float64 needs twice the bytes), so it always makes a new array.
    """
    a = numpy.zeros(3, dtype=numpy.float32)
    same = to_device(a, "cpu")
    same[0] = 5.0
    assert same is a and a[0] == 5.0
    cast = to_device(a, "cpu", dtype="float64")
    cast[1] = 7.0
    assert cast.dtype == numpy.float64 and a[1] == 0.0
    assert not numpy.shares_memory(cast, a)


def test_exercise_1_5_device_from_the_environment(monkeypatch):
    """Exercise 1.5: with ``SCRATCHLSTM_DEVICE=" Auto "`` ``resolve_device()`` is "cuda" exactly
    when a GPU is usable and "cpu" otherwise; "gpu" is an alias of "cuda" (a DeviceError without
    a GPU).

    Why: names are stripped and lower-cased before they are checked, "auto" asks
    ``gpu_available()``, and "gpu" is rewritten to "cuda" before the CuPy/GPU check.
    """
    has_gpu = backend.gpu_available()
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", " Auto ")
    assert resolve_device() == ("cuda" if has_gpu else "cpu")
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "gpu")
    if has_gpu:
        assert resolve_device() == "cuda"
    else:
        with pytest.raises(DeviceError):
            resolve_device()
