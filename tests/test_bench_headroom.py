"""benchmarks/bench_headroom.py times the matrix products of the speed track alone: its plan must
hold exactly the products the model makes (counted against bench_lstm's own flop count), and the
script must run end to end."""
import runpy
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return runpy.run_path(str(REPO / "benchmarks" / "bench_headroom.py"))


@pytest.fixture(scope="module")
def configs():
    return runpy.run_path(str(REPO / "benchmarks" / "bench_lstm.py"))


@pytest.mark.parametrize("name", ["tiny", "small", "char", "playground"])
def test_the_plan_makes_the_models_products(bench, configs, name):
    cfg = configs["CONFIGS"][name]
    tokens = cfg["batch"] * cfg["bptt"]
    forward = configs["matrix_flops_per_token"](cfg) * tokens
    rng = np.random.default_rng(0)
    assert bench["plan_flops"](bench["product_plan"](cfg, False, np, rng)) == forward
    # backward: the gradients with respect to inputs and to weights, one product each per forward one
    assert bench["plan_flops"](bench["product_plan"](cfg, True, np, rng)) == 3 * forward


def test_a_tied_decoder_multiplies_by_the_transposed_embedding(bench, configs):
    plan = bench["product_plan"](configs["CONFIGS"]["playground"], False, np, np.random.default_rng(0))
    decoder = plan[-1][1]
    assert decoder.shape == (256, 3000) and decoder.flags.f_contiguous and not decoder.flags.c_contiguous


def test_it_runs_end_to_end(bench, capsys):
    bench["main"](["--config", "tiny", "--rounds", "1", "--steps", "1", "--no-torch"])
    out = capsys.readouterr().out
    assert "| tiny | train |" in out and "| tiny | eval |" in out


def test_the_nonlinearities_cover_every_gate_cell_and_logit(bench, configs):
    cfg = configs["CONFIGS"]["small"]
    N, H, L, V = cfg["batch"] * cfg["bptt"], cfg["hidden"], cfg["layers"], cfg["vocab"]
    plan = bench["nonlinearity_plan"](cfg, np)
    count = {}
    for function, buffer, times in plan:
        count[function] = count.get(function, 0) + buffer.size * times
    assert count == {np.exp: L * N * 4 * H + N * V, np.tanh: L * N * H}
