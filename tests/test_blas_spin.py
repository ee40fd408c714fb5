"""benchmarks/blas_spin.py (why bench_lstm pauses between phases) runs end to end."""
import runpy
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_it_reports_both_libraries(capsys):
    pytest.importorskip("torch")
    bench = runpy.run_path(str(REPO / "benchmarks" / "blas_spin.py"))
    bench["main"](["--config", "tiny", "--rounds", "1", "--windows", "1", "--pause", "0"])
    out = capsys.readouterr().out
    assert "torch: " in out and "right after a NumPy product" in out
    assert "ours: " in out and "right after a torch product" in out
