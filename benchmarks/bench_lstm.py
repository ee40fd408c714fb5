"""Training and inference throughput of scratchlstm against torch.nn.LSTM on the same config.

Both run in this process, on the same random token stream, with the same thread count, and are
measured in alternation (ours, torch, ours, torch, ...) so that machine noise hits both alike. The
figure that matters is the *ratio*: it is taken within each round, between two measurements
seconds apart, and the median over the rounds is reported (tokens/s are medians too).

One training step = forward, softmax cross-entropy, backward, global-norm clipping and an optimizer
step (Adam by default), on a (T, B) window, carrying the hidden state between windows.

    python benchmarks/bench_lstm.py                       # all configs, CPU, 2 threads
    python benchmarks/bench_lstm.py --config small --steps 30
    python benchmarks/bench_lstm.py --device cuda         # CuPy against torch on cuDNN
    python benchmarks/bench_lstm.py --device cuda --tf32 off   # the like-for-like comparison

On a GPU, scratchlstm's matrix products run in CuPy's strict FP32 (cuBLAS without TF32, unless
CUPY_TF32=1 is set), while torch lets cuDNN use TF32 tensor cores by default for its LSTM (on
Ampere and newer GPUs): ``--tf32 off`` forces torch to FP32 too and compares like with like;
``--tf32 on`` allows it, which is what a torch user gets by default. The line after the table
says which was compared.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

CONFIGS = {
    #          vocab, embed, hidden, layers, batch, bptt
    "small": dict(vocab=10_000, embed=200, hidden=200, layers=2, batch=20, bptt=20),
    "medium": dict(vocab=10_000, embed=650, hidden=650, layers=2, batch=20, bptt=35),
    "char": dict(vocab=65, embed=128, hidden=512, layers=2, batch=64, bptt=100),
    # not part of "all": a seconds-long smoke run (gpu_check.sh's tiny mode, through the stand-in)
    "tiny": dict(vocab=500, embed=32, hidden=32, layers=2, batch=4, bptt=10),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="BLAS/torch threads (default 2)")
    p.add_argument("--steps", type=int, default=20, help="timed steps per round (default 20)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--tf32", choices=["on", "off"], default="off",
                   help="GPU only: allow torch (cuBLAS and cuDNN) to use TF32, or force FP32 "
                        "(default off: like for like with CuPy's FP32)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    # Thread counts must be fixed before NumPy/torch load their BLAS.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from scratchlstm import Adam, SGD, LSTMLanguageModel, clip_grad_norm, softmax_cross_entropy
    from scratchlstm.backend import np, resolve_device, synchronize, to_device

    device = resolve_device(args.device)
    torch = None
    if not args.no_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            print("torch is not installed: reporting scratchlstm alone")
    if torch is not None and device == "cuda":
        if not torch.cuda.is_available():
            print("torch has no CUDA here (a CPU build, or no GPU it can see): the cuDNN "
                  "comparison is skipped; reporting scratchlstm alone")
            torch = None
        else:
            allow = args.tf32 == "on"
            torch.backends.cuda.matmul.allow_tf32 = allow
            torch.backends.cudnn.allow_tf32 = allow

    names = [n for n in CONFIGS if n != "tiny"] if args.config == "all" else [args.config]
    rows = []
    for name in names:
        cfg = CONFIGS[name]
        V, E, H, L, B, T = (cfg[k] for k in ("vocab", "embed", "hidden", "layers", "batch", "bptt"))
        rng = np.random.default_rng(0)
        stream = rng.integers(0, V, size=(T * (args.steps + 1) + 1, B))

        # ---- scratchlstm -------------------------------------------------------------------
        model = LSTMLanguageModel(V, E, H, L, seed=0, device=device)
        opt = Adam(model.parameters(), lr=1e-3) if args.optimizer == "adam" else SGD(model.parameters(), lr=1.0)
        windows = [(to_device(stream[k * T:(k + 1) * T], device),
                    to_device(stream[k * T + 1:(k + 1) * T + 1], device)) for k in range(args.steps + 1)]

        def ours_train(x, y, state):
            logits, state = model(x, state)
            loss, dlogits = softmax_cross_entropy(logits, y)
            model.zero_grad()
            model.backward(dlogits)
            clip_grad_norm(model.parameters(), 0.25)
            opt.step()
            return state

        def ours_infer(x, y, state):
            logits, state = model(x, state)
            softmax_cross_entropy(logits, y)
            return state

        # ---- PyTorch -----------------------------------------------------------------------
        if torch is not None:
            tdev = "cuda" if device == "cuda" else "cpu"
            emb = torch.nn.Embedding(V, E).to(tdev)
            lstm = torch.nn.LSTM(E, H, L).to(tdev)
            dec = torch.nn.Linear(H, V).to(tdev)
            tparams = [*emb.parameters(), *lstm.parameters(), *dec.parameters()]
            topt = torch.optim.Adam(tparams, lr=1e-3) if args.optimizer == "adam" else torch.optim.SGD(tparams, lr=1.0)
            twin = [(torch.from_numpy(stream[k * T:(k + 1) * T]).to(tdev),
                     torch.from_numpy(stream[k * T + 1:(k + 1) * T + 1]).to(tdev)) for k in range(args.steps + 1)]

            def tsync():
                if tdev == "cuda":
                    torch.cuda.synchronize()

            def torch_train(x, y, state):
                out, state = lstm(emb(x), state)
                loss = torch.nn.functional.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
                topt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(tparams, 0.25)
                topt.step()
                return tuple(s.detach() for s in state)

            def torch_infer(x, y, state):
                with torch.no_grad():
                    out, state = lstm(emb(x), state)
                    torch.nn.functional.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
                return state

        results = {"ours_train": [], "ours_infer": [], "torch_train": [], "torch_infer": []}

        def tokens_per_second(step, windows, sync):
            """Run ``step`` over all windows carrying the state; time all but the first (warm-up)."""
            state = None
            for k, (x, y) in enumerate(windows):
                if k == 1:
                    sync()
                    t0 = time.perf_counter()
                state = step(x, y, state)
            sync()
            return args.steps * T * B / (time.perf_counter() - t0)

        ours_sync = lambda: synchronize(device)  # noqa: E731
        for _ in range(args.rounds):
            model.train()
            results["ours_train"].append(tokens_per_second(ours_train, windows, ours_sync))
            if torch is not None:
                results["torch_train"].append(tokens_per_second(torch_train, twin, tsync))
            model.eval()
            results["ours_infer"].append(tokens_per_second(ours_infer, windows, ours_sync))
            if torch is not None:
                results["torch_infer"].append(tokens_per_second(torch_infer, twin, tsync))
        med = {k: statistics.median(v) if v else float("nan") for k, v in results.items()}
        for mode in ("train", "infer"):    # ratio within each round, then the median over rounds
            ratios = [o / t for o, t in zip(results[f"ours_{mode}"], results[f"torch_{mode}"])]
            med[f"ratio_{mode}"] = statistics.median(ratios) if ratios else float("nan")
        rows.append((name, med))
        print(f"{name}: ours train {med['ours_train']:,.0f} tok/s, torch train {med['torch_train']:,.0f} "
              f"tok/s, ratio {med['ratio_train']:.2f}; inference ratio {med['ratio_infer']:.2f}",
              flush=True)

    print()
    print(f"device={device}, threads={args.threads}, optimizer={args.optimizer}, "
          f"steps={args.steps} x rounds={args.rounds} (median)")
    if device == "cuda":
        ours = "TF32 (CUPY_TF32=1)" if os.environ.get("CUPY_TF32") == "1" else "strict FP32"
        theirs = ("not run" if torch is None else
                  "TF32 allowed (cuBLAS and cuDNN)" if args.tf32 == "on" else "FP32, TF32 forced off")
        print(f"compared: scratchlstm on CuPy in {ours} against torch cuDNN nn.LSTM in {theirs}")
    print("| config | ours train tok/s | torch train tok/s | train ratio | ours infer tok/s | torch infer tok/s | infer ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, m in rows:
        print(f"| {name} | {m['ours_train']:,.0f} | {m['torch_train']:,.0f} | {m['ratio_train']:.2f} "
              f"| {m['ours_infer']:,.0f} | {m['torch_infer']:,.0f} | {m['ratio_infer']:.2f} |")


if __name__ == "__main__":
    main()
