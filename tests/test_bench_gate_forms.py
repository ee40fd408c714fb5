"""benchmarks/bench_gate_nonlinearity.py times the speed track's two gate forms; both must give
the gates (sigmoid for i, f, o and tanh for g) to float32 accuracy, or the timing compares
nothing."""
import runpy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_benchmark_measures_two_forms_that_compute_the_gates():
    bench = runpy.run_path(str(REPO / "benchmarks" / "bench_gate_nonlinearity.py"))
    result = bench["measure"](3, 5, repeats=3)
    assert set(result) == {"tanh", "exp"}
    for form in result.values():
        assert form["us"] > 0
        assert form["error"] < 5e-7
