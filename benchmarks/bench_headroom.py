"""How close to torch the library could come if everything but its matrix products were free.

``bench_lstm.py`` gives today's ratios against torch. This script asks what the best ratio is that
NumPy's matrix products leave room for. For each config it times, in one process, alternating,
each after a pause of ``bench_lstm.SETTLE_SECONDS``:

* the matrix products alone that the speed track makes in an evaluation window, and in a
  training step, on float32 arrays of the same shapes and orientations (``product_plan``): per
  layer the input projection of all T steps and the T recurrent products one after the other,
  then the decoder; for training also the backward products (the T transposed recurrent ones,
  the input and weight gradients, the decoder's two);
* torch's whole evaluation window and training step (``bench_lstm.torch_reference``);
* the library's whole window and step (``bench_lstm.evaluation_window``, ``training_step``).

It prints per config and mode the three times (medians over the rounds) and two ratios: torch's
time over the products' time, the *best possible* ratio however fast the rest (gate arithmetic,
loss, optimizer, Python) is made; and torch's time over the library's, the ratio today. Where the
best possible ratio is near 1.0 or below, only faster small matrix products can reach the floor.

    python benchmarks/bench_headroom.py                    # the four configs of bench_lstm (~4 min)
    python benchmarks/bench_headroom.py --config playground --rounds 7
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def parse_args(argv=None):
    from bench_lstm import CONFIGS

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    p.add_argument("--threads", type=int, default=2, help="BLAS/torch threads (default 2)")
    p.add_argument("--steps", type=int, default=5, help="windows or steps timed per measurement (default 5)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    return p.parse_args(argv)


def product_plan(cfg, training, np, rng, recurrent_transposed=False):
    """The matrix products of one evaluation window (``training`` False) or one training step of
    the speed track, as a list of ``(a, b, out, times)``: ``np.matmul(a, b, out=out)`` made
    ``times`` times in a row. The operands have the shapes and memory orders of the real ones
    (a tied decoder multiplies by the transposed view of the embedding, the backward recurrent
    product is ``Wh da_t^T``); their values are random, which does not change a product's speed.
    ``recurrent_transposed``: the forward recurrent product as ``Wh^T h_{t-1}^T``, a (4H, B)
    result, the orientation OpenBLAS runs faster at small batches (a layout the library does not
    use, see RESULTS section 1d; timed so that the bound holds for either layout).
    """
    V, E, H, L, B, T = (cfg[k] for k in ("vocab", "embed", "hidden", "layers", "batch", "bptt"))
    N = T * B

    def arr(*shape):
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)

    plan = []
    for k in range(L):
        D = E if k == 0 else H
        x, Wx, Wh, h = arr(N, D), arr(D, 4 * H), arr(H, 4 * H), arr(B, H)
        plan.append((x, Wx, arr(N, 4 * H), 1))                   # x_t Wx for all t
        if recurrent_transposed:
            plan.append((Wh.T.copy(), h.T.copy(), arr(4 * H, B), T))
        else:
            plan.append((h, Wh, arr(B, 4 * H), T))               # h_{t-1} Wh, step by step
        if training:
            dg = arr(N, 4 * H)
            plan.append((Wh, arr(B, 4 * H).T, arr(H, B), T))            # Wh da_t^T, step by step
            plan.append((x.T, dg, arr(D, 4 * H), 1))              # dWx = x^T da
            plan.append((arr(N, H).T, dg, arr(H, 4 * H), 1))      # dWh = h_{t-1}^T da
            plan.append((dg, Wx.T, arr(N, D), 1))                 # dx = da Wx^T
    W = arr(V, H).T if cfg.get("tie") else arr(H, V)              # tied: the embedding's transpose
    hs = arr(N, H)
    plan.append((hs, W, arr(N, V), 1))                            # logits
    if training:
        dlogits = arr(N, V)
        plan.append((dlogits, W.T, arr(N, H), 1))                 # d hs
        plan.append((hs.T, dlogits, arr(H, V), 1))                # dW
    return plan


def nonlinearity_plan(cfg, np):
    """The exponentials and tanhs that no form of the forward pass can skip, as a list of
    ``(function, buffer, times)``: one ``exp`` per gate pre-activation and one ``tanh`` per cell
    state, in every layer, and one ``exp`` per logit in the loss. Each runs over a buffer of
    ``CPU_BLOCK_NUMBERS`` numbers that stays in the cache, NumPy's fastest case, so the time is a
    lower bound for the real calls. (The backward pass needs none.)"""
    from scratchlstm.nn.fast import CPU_BLOCK_NUMBERS

    V, H, L, B, T = (cfg[k] for k in ("vocab", "hidden", "layers", "batch", "bptt"))
    buffer = np.full(CPU_BLOCK_NUMBERS, -0.5, dtype=np.float32)
    N = T * B
    plan = []
    for function, numbers in ((np.exp, L * N * 4 * H), (np.tanh, L * N * H), (np.exp, N * V)):
        full, rest = divmod(numbers, CPU_BLOCK_NUMBERS)
        plan += [(function, buffer, full), (function, buffer[:rest], 1 if rest else 0)]
    return plan


def run_nonlinearities(plan, np):
    for function, buffer, times in plan:
        scratch = np.empty_like(buffer)
        for _ in range(times):
            function(buffer, out=scratch)


def plan_flops(plan) -> int:
    """Floating-point operations of a plan (2 per multiply-add)."""
    return sum(2 * a.shape[0] * a.shape[1] * b.shape[1] * times for a, b, _, times in plan)


def run_plan(plan, np):
    for a, b, out, times in plan:
        for _ in range(times):
            np.matmul(a, b, out=out)


def measure(cfg, args, torch):
    """Medians over the rounds of the seconds per window/step of the products, torch and ours."""
    from bench_lstm import (SETTLE_SECONDS, evaluation_window, library_model, seconds_per_call,
                            torch_reference, training_step)
    from scratchlstm import Adam
    from scratchlstm.backend import np

    V, B, T = cfg["vocab"], cfg["batch"], cfg["bptt"]
    rng = np.random.default_rng(0)
    stream = rng.integers(0, V, size=(T * (args.steps + 1) + 1, B))
    x, y = stream[:T], stream[1:T + 1]
    model = library_model(cfg)
    opt = Adam(model.parameters(), lr=1e-3)
    plans = {"eval": product_plan(cfg, False, np, rng), "train": product_plan(cfg, True, np, rng)}
    transposed = {mode: product_plan(cfg, mode == "train", np, rng, recurrent_transposed=True)
                  for mode in plans}
    nonlinear = nonlinearity_plan(cfg, np)
    ours = {"eval": lambda: evaluation_window(model, x, y), "train": lambda: training_step(model, opt, x, y)}
    theirs = {}
    if torch is not None:
        t_train, t_infer, _, twin, _ = torch_reference(cfg, stream, args.steps, "cpu", torch)
        tx, ty = twin[0]
        theirs = {"eval": lambda: t_infer(tx, ty, None), "train": lambda: t_train(tx, ty, None)}
    def timed(call):
        return seconds_per_call(call, args.steps, SETTLE_SECONDS)

    times = {(who, mode): [] for who in ("products", "transposed", "nonlinear", "torch", "ours")
             for mode in plans}
    for _ in range(args.rounds):
        for mode, plan in plans.items():
            times["products", mode].append(timed(lambda: run_plan(plan, np)))
            times["transposed", mode].append(timed(lambda: run_plan(transposed[mode], np)))
            times["nonlinear", mode].append(timed(lambda: run_nonlinearities(nonlinear, np)))
            if mode in theirs:
                times["torch", mode].append(timed(theirs[mode]))
            times["ours", mode].append(timed(ours[mode]))
    return {key: statistics.median(v) if v else float("nan") for key, v in times.items()}


def main(argv=None):
    args = parse_args(argv)
    from bench_lstm import CONFIGS, import_torch, use_threads

    use_threads(args.threads)
    torch = import_torch(args.threads, args.no_torch, alone="the products and scratchlstm alone")
    names = [n for n in CONFIGS if n != "tiny"] if args.config == "all" else [args.config]
    print(f"threads={args.threads}, {args.steps} windows or steps per measurement x {args.rounds} "
          f"rounds (medians), ms per window or step")
    print("| config | mode | products, as the library (transposed) | exp and tanh alone | torch, whole "
          "| ours, whole | best possible ratio: torch / (faster products + exp and tanh) "
          "| ratio now (torch / ours) | ours besides the products |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        t = measure(CONFIGS[name], args, torch)
        for mode in ("train", "eval"):
            p, pt, nl, th, us = (1e3 * t[who, mode] for who in ("products", "transposed", "nonlinear", "torch", "ours"))
            floor = min(p, pt) + nl
            torch_cells = (f"- | {us:.1f} | - | -" if torch is None
                           else f"{th:.1f} | {us:.1f} | {th / floor:.2f} | {th / us:.2f}")
            print(f"| {name} | {mode} | {p:.1f} ({pt:.1f}) | {nl:.1f} | {torch_cells} | {us - p:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
