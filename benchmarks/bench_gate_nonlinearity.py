"""The LSTM's gate nonlinearities two ways, on the gate rows of one time step (float32, 1 thread).

Both are :class:`scratchlstm.nn.fast.GateForm` s, run by ``fast.activate_gates``:

* ``tanh`` (what the speed track runs on a GPU): the i, f, o pre-activations arrive halved, one
  ``tanh`` runs over all four gates, then ``* 0.5 + 0.5`` turns i, f, o into sigmoids
  (sigma(a) = 0.5 tanh(a / 2) + 0.5).
* ``exp`` (what it runs on the CPU): the pre-activations arrive negated (and doubled for g, exact
  in floating point), one ``exp`` runs over all four gates, then ``1 / (1 + e)`` gives the
  sigmoids, and ``2 s - 1`` turns g's into tanh (tanh(a) = 2 sigma(2a) - 1). NumPy's float32
  ``exp`` is about twice as fast as its ``tanh`` here.

Both start from the same pre-activations with one elementwise multiply, standing for the scaled
weights of the GEMM. The script prints the microseconds per step of each, their ratio, and the
largest error of each against float64.

    python benchmarks/bench_gate_nonlinearity.py
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402 - after the thread setting

from scratchlstm.nn import fast  # noqa: E402

SHAPES = {"char (B 64, H 512)": (64, 512), "medium (B 20, H 650)": (20, 650), "small (B 20, H 200)": (20, 200)}


def per_call_us(fn, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def measure(B: int, H: int, repeats: int = 2000, seed: int = 0) -> dict:
    """Microseconds per gate step of each form (median of 3 alternating rounds) and the largest
    error of each against the float64 gates, on (B, 4H) pre-activations ~ N(0, 2^2)."""
    z = (2 * np.random.default_rng(seed).standard_normal((B, 4 * H))).astype(np.float32)
    forms = {"tanh": fast.gate_form(H, np.float32, np, exp=False),
             "exp": fast.gate_form(H, np.float32, np, exp=True)}
    outs = {name: np.empty_like(z) for name in forms}

    def run(name):
        np.multiply(z, forms[name].pre_scale, out=outs[name])
        with np.errstate(over="ignore"):
            fast.activate_gates(outs[name], H, forms[name], np)

    times = {name: [] for name in forms}
    for _ in range(3):                                              # alternate: noise hits both
        for name in forms:
            times[name].append(per_call_us(lambda: run(name), repeats))
    exact = z.astype(np.float64)
    g = (np.arange(4 * H) // H) == 2
    ref = np.where(g, np.tanh(exact), 1 / (1 + np.exp(-exact)))
    return {name: dict(us=float(np.median(times[name])), error=float(np.abs(outs[name] - ref).max()))
            for name in forms}


def main():
    print(f"{'shape':22s} {'tanh form':>10s} {'exp form':>10s} {'ratio':>6s} {'error tanh':>11s} {'error exp':>10s}")
    for name, (B, H) in SHAPES.items():
        m = measure(B, H)
        t, e = m["tanh"]["us"], m["exp"]["us"]
        print(f"{name:22s} {t:8.1f}us {e:8.1f}us {t / e:6.2f} {m['tanh']['error']:11.1e} {m['exp']['error']:10.1e}")


if __name__ == "__main__":
    main()
