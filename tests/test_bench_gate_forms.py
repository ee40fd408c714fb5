"""benchmarks/bench_gate_nonlinearity.py times two ways of computing the LSTM's gates; both must
give the gates (sigmoid for i, f, o and tanh for g) to float32 accuracy, or the timing compares
nothing."""
import runpy
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def test_the_tanh_and_exp_forms_both_compute_the_gates():
    bench = runpy.run_path(str(REPO / "benchmarks" / "bench_gate_nonlinearity.py"))
    B, H = 3, 5
    a0 = (4 * np.random.default_rng(0).standard_normal((B, 4 * H))).astype(np.float32)
    scale, shift, negate = bench["gate_constants"](H)
    out_t, out_e = np.empty_like(a0), np.empty_like(a0)
    bench["tanh_form"](a0, out_t, scale, shift)
    bench["exp_form"](a0, out_e, negate, H)
    exact = a0.astype(np.float64)
    ref = np.concatenate([1 / (1 + np.exp(-exact[:, :3 * H])), np.tanh(exact[:, 3 * H:])], axis=1)
    assert np.abs(out_t - ref).max() < 5e-7 and np.abs(out_e - ref).max() < 5e-7
