"""Each speed-track trick switched off and on inside one model, in one process: what it buys.

``bench_lstm.py`` compares the library with torch; this script compares the library with itself.
For each trick it builds the benchmark's configs, then times training steps and evaluation
windows with the trick off and on, alternating (off, on, off, on, ...) so that machine noise hits
both alike, and prints the median of the per-round ratios ``time off / time on`` (above 1: the
trick is faster). The tricks, each a switch of ``scratchlstm.nn.fast``:

* ``gates``: the gates from one ``exp`` (``GateForm`` with ``exp=True``, what the CPU runs)
  against one ``tanh`` with a scale and shift (the GPU's form);
* ``loss-blocks``: the loss and its gradient in cache-sized row blocks
  (``fast.CPU_BLOCK_NUMBERS``) against the whole (N, V) array at once.

    python benchmarks/ab_speed_tricks.py                      # both tricks, all configs
    python benchmarks/ab_speed_tricks.py --trick gates --config char --rounds 7
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def trick_off(name):
    """A context in which the speed track runs without trick ``name``."""
    from scratchlstm.nn import fast

    if name == "gates":
        chosen = fast.gate_form
        return mock.patch.object(fast, "gate_form",
                                 lambda H, dtype, xp, exp=None: chosen(H, dtype, xp, exp=False))
    if name == "loss-blocks":
        return mock.patch.object(fast, "CPU_BLOCK_NUMBERS", 1 << 62)   # one block: the whole array
    raise ValueError(f"unknown trick {name!r}: choose from {TRICKS}")


TRICKS = ("gates", "loss-blocks")


def measure(trick, cfg, rounds=5, train_steps=4, eval_windows=8) -> dict:
    """Median speed-up (time off / time on) of one trick on one config, for training and evaluation."""
    from bench_lstm import evaluation_window, library_model, seconds_per_call, training_step
    from scratchlstm import Adam
    from scratchlstm.backend import np

    V, B, T = cfg["vocab"], cfg["batch"], cfg["bptt"]
    model = library_model(cfg)
    opt = Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))

    def train():
        training_step(model, opt, x, y)

    def evaluate():
        evaluation_window(model, x, y)

    result = {}
    for mode, step, repeats in (("train", train, train_steps), ("eval", evaluate, eval_windows)):
        ratios = []
        for _ in range(rounds):
            with trick_off(trick):
                off = seconds_per_call(step, repeats)
            on = seconds_per_call(step, repeats)
            ratios.append(off / on)
        result[mode] = statistics.median(ratios)
    return result


def main(argv=None):
    from bench_lstm import CONFIGS, use_threads

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trick", choices=[*TRICKS, "all"], default="all")
    p.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    p.add_argument("--threads", type=int, default=2, help="BLAS threads (default 2)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    args = p.parse_args(argv)
    use_threads(args.threads)                  # before NumPy loads its BLAS
    tricks = TRICKS if args.trick == "all" else (args.trick,)
    names = [n for n in CONFIGS if n != "tiny"] if args.config == "all" else [args.config]
    print(f"threads={args.threads}, rounds={args.rounds}; speed-up = time without / time with (median)")
    report(tricks, names, args.rounds)


def report(tricks, names, rounds):
    """Print the table: one row per trick and config."""
    from bench_lstm import CONFIGS

    print("| trick | config | train speed-up | eval speed-up |")
    print("|---|---|---:|---:|")
    for trick in tricks:
        for name in names:
            m = measure(trick, CONFIGS[name], rounds=rounds)
            print(f"| {trick} | {name} | {m['train']:.3f} | {m['eval']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
