"""Why ``bench_lstm.py`` pauses before each timed phase: one library's idle threads slow the other.

After a matrix product OpenBLAS's worker threads keep spinning for 2^28 clock cycles before they
sleep. This script times torch's evaluation window (the playground's shape by default) straight
after a NumPy product and after a pause, and the library's window straight after a torch product
and after a pause, alternating, and prints the medians and the slow-downs.

    python benchmarks/blas_spin.py                    # playground shape, 12 rounds (~30 s)
    python benchmarks/blas_spin.py --config small --rounds 20
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def parse_args(argv=None):
    from bench_lstm import CONFIGS

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=list(CONFIGS), default="playground")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--windows", type=int, default=5, help="windows timed after each product (default 5)")
    p.add_argument("--pause", type=float, default=0.25, help="seconds of the pause (default 0.25)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from bench_lstm import CONFIGS, evaluation_window, import_torch, library_model, torch_reference, use_threads

    use_threads(args.threads)
    torch = import_torch(args.threads, alone="nothing: this comparison needs it")
    if torch is None:
        return
    from scratchlstm.backend import np

    cfg = CONFIGS[args.config]
    V, B, T = cfg["vocab"], cfg["batch"], cfg["bptt"]
    stream = np.random.default_rng(0).integers(0, V, size=(T + 1, B))
    model = library_model(cfg)
    _, torch_infer, _, twin, _ = torch_reference(cfg, stream, 0, "cpu", torch)
    windows = {"torch": lambda: torch_infer(*twin[0], None),
               "ours": lambda: evaluation_window(model, stream[:T], stream[1:])}
    numpy_a, torch_a = np.ones((512, 512), np.float32), torch.ones(512, 512)
    other_product = {"torch": lambda: numpy_a @ numpy_a, "ours": lambda: torch_a @ torch_a}
    times = {(who, when): [] for who in windows for when in ("right after", "after a pause")}
    for who in windows:
        windows[who]()                           # warm-up
    for _ in range(args.rounds):
        for who, window in windows.items():
            for when in ("right after", "after a pause"):
                other_product[who]()             # the other library's threads start to spin
                if when == "after a pause":
                    time.sleep(args.pause)
                t0 = time.perf_counter()
                for _ in range(args.windows):
                    window()
                times[who, when].append((time.perf_counter() - t0) / args.windows)
    print(f"{args.config}, {args.threads} threads, {args.rounds} rounds of {args.windows} evaluation "
          f"windows (medians, ms per window)")
    for who, other in (("torch", "a NumPy product"), ("ours", "a torch product")):
        right, paused = (1e3 * statistics.median(times[who, when]) for when in ("right after", "after a pause"))
        print(f"{who}: {right:.1f} right after {other}, {paused:.1f} after a {args.pause} s pause: "
              f"{right / paused:.2f}x")


if __name__ == "__main__":
    main()
