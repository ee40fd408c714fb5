"""Shared fixtures: a seeded generator, small float64 inputs, and GPU/torch availability."""
import pytest

from scratchlstm.backend import gpu_available, np


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` with a reason when CuPy or a GPU is missing."""
    if gpu_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CuPy and a CUDA GPU (pip install scratchlstm[gpu])")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture
def rng():
    """A seeded NumPy generator: every test sees the same 'random' numbers."""
    return np.random.default_rng(0)
