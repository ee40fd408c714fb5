"""Shared fixtures: a seeded generator, the shared data folder, and GPU availability."""
import os
from pathlib import Path

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


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def corpus_dir():
    """``corpus_dir(folder)``: the data folder holding the corpus sub-folder ``folder``
    ($SCRATCHLSTM_DATA first, then ../shared/data beside the repository), or skip the test with
    the reason when neither has it. The benchmark corpora are never part of the repository."""
    def find(folder: str) -> Path:
        env = os.environ.get("SCRATCHLSTM_DATA")
        for root in ([Path(env)] if env else []) + [SHARED_DATA]:
            if (root / folder).is_dir():
                return root
        pytest.skip(f"corpus folder {folder!r} not found under $SCRATCHLSTM_DATA or {SHARED_DATA}")
    return find
