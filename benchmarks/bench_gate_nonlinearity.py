"""The LSTM's gate nonlinearities two ways, on the gate rows of one time step (float32, 1 thread).

* ``tanh`` (what ``fast.lstm_forward`` does today): the i, f, o pre-activations arrive halved, one
  ``tanh`` runs over all four gates, then ``* scale + shift`` turns i, f, o into sigmoids
  (sigma(a) = 0.5 tanh(a / 2) + 0.5).
* ``exp``: the pre-activations arrive negated (and doubled for g, exact in floating point), one
  ``exp`` runs over all four gates, then ``1 / (1 + e)`` gives the sigmoids, and ``2 s - 1`` turns
  g's into tanh (tanh(a) = 2 sigma(2a) - 1). NumPy's float32 ``exp`` is about twice as fast as
  its ``tanh`` here.

Both start from the same pre-activations with one elementwise multiply, standing for the scaled
weights of the GEMM. The script prints the microseconds per step of each, their ratio, and the
largest error of each against float64.

    python benchmarks/bench_gate_nonlinearity.py
"""
from __future__ import annotations

import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402 - after the thread setting

SHAPES = {"char (B 64, H 512)": (64, 512), "medium (B 20, H 650)": (20, 650), "small (B 20, H 200)": (20, 200)}


def gate_constants(H: int):
    """(4H,) float32 columns for gates ordered i, f, o, g: the tanh form's ``scale`` and ``shift``
    (0.5 and 0.5 for i, f, o; 1 and 0 for g) and the exp form's ``negate`` (-1 for i, f, o; -2 for g)."""
    ifo = np.arange(4 * H) < 3 * H
    as32 = lambda x: x.astype(np.float32)                                  # noqa: E731
    return as32(np.where(ifo, 0.5, 1.0)), as32(np.where(ifo, 0.5, 0.0)), as32(np.where(ifo, -1.0, -2.0))


def tanh_form(a0, out, scale, shift):
    np.multiply(a0, scale, out=out)
    np.tanh(out, out=out)
    out *= scale
    out += shift


def exp_form(a0, out, negate, H):
    np.multiply(a0, negate, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    g = out[:, 3 * H:]
    g *= 2.0
    g -= 1.0


def per_call_us(fn, repeats=2000):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats * 1e6


def main():
    rng = np.random.default_rng(0)
    print(f"{'shape':22s} {'tanh form':>10s} {'exp form':>10s} {'ratio':>6s} {'error tanh':>11s} {'error exp':>10s}")
    for name, (B, H) in SHAPES.items():
        a0 = (2 * rng.standard_normal((B, 4 * H))).astype(np.float32)
        scale, shift, negate = gate_constants(H)
        out_t, out_e = np.empty_like(a0), np.empty_like(a0)
        run_t = lambda: tanh_form(a0, out_t, scale, shift)          # noqa: E731
        run_e = lambda: exp_form(a0, out_e, negate, H)              # noqa: E731
        times = {"t": [], "e": []}
        for _ in range(3):                                          # alternate: noise hits both
            times["t"].append(per_call_us(run_t))
            times["e"].append(per_call_us(run_e))
        t, e = np.median(times["t"]), np.median(times["e"])
        exact = a0.astype(np.float64)
        ref = np.concatenate([1 / (1 + np.exp(-exact[:, :3 * H])), np.tanh(exact[:, 3 * H:])], axis=1)
        print(f"{name:22s} {t:8.1f}us {e:8.1f}us {t / e:6.2f} {np.abs(out_t - ref).max():11.1e} "
              f"{np.abs(out_e - ref).max():10.1e}")


if __name__ == "__main__":
    main()
