"""Lesson 1 exercises: arrays on two devices and the backend switch."""
import ast
from pathlib import Path

import numpy
import pytest

from scratchlstm import backend
from scratchlstm.backend import (DeviceError, get_array_module, resolve_device, scatter_add,
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

    Fancy-index assignment applies only one of the repeated writes; scatter_add applies all,
    so row 1 gets 1 + 2 = 3 and row 3 gets 5.
    """
    W = numpy.zeros((4, 2))
    idx = numpy.array([1, 1, 3])
    g = numpy.array([[1.0, 1.0], [2.0, 2.0], [5.0, 5.0]])
    wrong = W.copy()
    wrong[idx] += g
    scatter_add(W, idx, g)
    assert W.tolist() == [[0, 0], [3, 3], [0, 0], [5, 5]]
    assert wrong[1].tolist() == [2, 2]          # the bug scatter_add avoids


def test_resolve_dtype_accepts_only_floats():
    """Parameters are float32 (training) or float64 (gradient checks); int8 is refused."""
    assert backend.resolve_dtype("float64") == numpy.float64
    with pytest.raises(TypeError, match="float32"):
        backend.resolve_dtype("int8")
