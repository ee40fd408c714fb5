"""Training and inference throughput of scratchlstm against torch.nn.LSTM on the same config.

Both run in this process, on the same random token stream, with the same thread count, and are
measured in alternation (ours, torch, ours, torch, ...) so that machine noise hits both alike. The
figure that matters is the *ratio*: it is taken within each round, between two measurements
seconds apart, and the median over the rounds is reported (tokens/s are medians too). Each timed
phase starts after a pause of ``SETTLE_SECONDS``, so that the other library's idle threads have
stopped spinning (see there).

Three modes, each a ratio ours / torch:

* training: forward, softmax cross-entropy, backward, global-norm clipping and an optimizer step
  (Adam by default) on a (T, B) window, carrying the hidden state between windows;
* evaluation: forward and the loss alone, as ``evaluate`` runs it (``model.inference()``; torch
  under ``no_grad``);
* generation at batch 1: one token in, its logits, the probabilities and a sampled next token,
  as ``generate`` runs it (the model's batch-1 stepper; torch's ``nn.LSTM`` on a (1, 1) input,
  with the same sampling code).

Each config also reports the GFLOP/s of its matrix work (the multiply-adds of the forward pass,
times 3 for training: forward, and the gradients with respect to inputs and weights) against the
float32 GEMM ceiling measured in the same process (a 1024 x 1024 x 1024 product). The whole
measurement is repeated ``--runs`` times back to back; the table gives the median of the runs.

    python benchmarks/bench_lstm.py                       # all configs, CPU, 2 threads, 3 runs
    python benchmarks/bench_lstm.py --config small --runs 1
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
    # the shape of the playground's pretrained model (covid-bpe: BPE 3000, 2 x 256, tied)
    "playground": dict(vocab=3000, embed=256, hidden=256, layers=2, batch=20, bptt=35, tie=True),
    # not part of "all": a seconds-long smoke run (gpu_check.sh's tiny mode, through the stand-in)
    "tiny": dict(vocab=500, embed=32, hidden=32, layers=2, batch=4, bptt=10),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=[*CONFIGS, "all"], default="all")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=2, help="BLAS/torch threads (default 2)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per round (default 10)")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per run (default 3)")
    p.add_argument("--runs", type=int, default=3, help="back-to-back runs; medians reported (default 3)")
    p.add_argument("--tokens", type=int, default=200, help="generated tokens per round (default 200)")
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--tf32", choices=["on", "off"], default="off",
                   help="GPU only: allow torch (cuBLAS and cuDNN) to use TF32, or force FP32 "
                        "(default off: like for like with CuPy's FP32)")
    return p.parse_args(argv)


def use_threads(threads: int) -> None:
    """Fix the BLAS and OpenMP thread counts: before NumPy and torch load their BLAS."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)


def import_torch(threads: int, skip: bool = False, alone: str = "scratchlstm alone"):
    """torch, set to ``threads`` threads; None when ``skip`` or when it is not installed (then
    the line printed says what is reported instead, ``alone``)."""
    if skip:
        return None
    try:
        import torch
    except ImportError:
        print(f"torch is not installed: reporting {alone}")
        return None
    torch.set_num_threads(threads)
    return torch


def main(argv=None):
    args = parse_args(argv)
    use_threads(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from scratchlstm.backend import np, resolve_device, synchronize

    device = resolve_device(args.device)
    torch = import_torch(args.threads, args.no_torch)
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
    ceiling = gemm_ceiling(np, device, synchronize)
    runs = {name: [] for name in names}
    for run in range(args.runs):
        for name in names:
            med = measure(CONFIGS[name], args, device, torch)
            runs[name].append(med)
            print(f"run {run + 1}/{args.runs} {name}: train ratio {med['ratio_train']:.2f}, "
                  f"eval ratio {med['ratio_infer']:.2f}, generation ratio {med['ratio_generate']:.2f}",
                  flush=True)

    print()
    print(f"device={device}, threads={args.threads}, optimizer={args.optimizer}, steps={args.steps} "
          f"x rounds={args.rounds} x runs={args.runs}, {args.tokens} generated tokens a round "
          f"(medians)")
    if device == "cuda":
        ours = "TF32 (CUPY_TF32=1)" if os.environ.get("CUPY_TF32") == "1" else "strict FP32"
        theirs = ("not run" if torch is None else
                  "TF32 allowed (cuBLAS and cuDNN)" if args.tf32 == "on" else "FP32, TF32 forced off")
        print(f"compared: scratchlstm on CuPy in {ours} against torch cuDNN nn.LSTM in {theirs}")
    print(f"float32 GEMM ceiling (1024^3, this process): {ceiling:.0f} GFLOP/s")
    print("| config | train tok/s ours / torch | train ratio | eval tok/s ours / torch | eval ratio "
          "| generate tok/s ours / torch | generate ratio | GFLOP/s train / eval (% of ceiling) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        m = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
        flops = matrix_flops_per_token(CONFIGS[name])
        g_train, g_eval = 3 * flops * m["ours_train"] / 1e9, flops * m["ours_infer"] / 1e9
        print(f"| {name} | {m['ours_train']:,.0f} / {m['torch_train']:,.0f} | {m['ratio_train']:.2f} "
              f"| {m['ours_infer']:,.0f} / {m['torch_infer']:,.0f} | {m['ratio_infer']:.2f} "
              f"| {m['ours_generate']:,.0f} / {m['torch_generate']:,.0f} | {m['ratio_generate']:.2f} "
              f"| {g_train:.0f} / {g_eval:.0f} ({100 * g_train / ceiling:.0f}% / {100 * g_eval / ceiling:.0f}%) |")


#: Seconds of idleness before each timed phase. After a matrix product OpenBLAS's worker threads
#: keep spinning on their cores for 2^28 clock cycles (about 0.1 s at 2.5 GHz) before they sleep,
#: so a phase timed straight after the other library's would share a core with them: torch's
#: playground evaluation window measured 1.32x slower in the five windows after a NumPy product
#: than after a pause, while torch's own threads stop spinning within about a millisecond
#: (``python benchmarks/blas_spin.py``, RESULTS section 1d).
SETTLE_SECONDS = 0.3


def matrix_flops_per_token(cfg) -> float:
    """Floating-point operations (2 per multiply-add) of one token's forward matrix products:
    every layer's input and recurrent projections, and the decoder."""
    E, H, L, V = cfg["embed"], cfg["hidden"], cfg["layers"], cfg["vocab"]
    lstm = sum(2 * ((E if k == 0 else H) + H) * 4 * H for k in range(L))
    return lstm + 2 * H * V


def gemm_ceiling(np, device, synchronize, n=1024, repeats=5) -> float:
    """The best GFLOP/s of an n x n x n float32 product here: what the matrix work can reach."""
    from scratchlstm.backend import get_array_module, to_device

    a = to_device(np.random.default_rng(0).standard_normal((n, n), dtype=np.float32), device)
    xp = get_array_module(a)
    out = a @ a
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        xp.matmul(a, a, out=out)
        synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def library_model(cfg, device="cpu"):
    """The library's ``LSTMLanguageModel`` for one config (seed 0), as every benchmark here
    builds it."""
    from scratchlstm import LSTMLanguageModel

    return LSTMLanguageModel(cfg["vocab"], cfg["embed"], cfg["hidden"], cfg["layers"],
                             tie_weights=cfg.get("tie", False), seed=0, device=device)


def seconds_per_call(call, n, settle=0.0):
    """Seconds per call of ``call()`` over ``n`` calls, after one untimed call (workspaces,
    buffers) and a pause of ``settle`` seconds (see ``SETTLE_SECONDS``)."""
    call()
    time.sleep(settle)
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n


def training_step(model, optimizer, x, y, state=None):
    """One training step of the library, as timed here: forward, softmax cross-entropy,
    backward, global-norm clipping (0.25) and the optimizer's step. Returns the final state."""
    from scratchlstm import clip_grad_norm, softmax_cross_entropy

    logits, state = model(x, state)
    _, dlogits = softmax_cross_entropy(logits, y)
    model.zero_grad()
    model.backward(dlogits)
    clip_grad_norm(model.parameters(), 0.25)
    optimizer.step()
    return state


def evaluation_window(model, x, y, state=None):
    """What ``evaluate()`` does per window: the forward pass and the loss alone, in
    ``model.inference()``. Returns the final state."""
    with model.inference():
        logits, state = model(x, state)
        model.evaluation_loss(logits, y)
    return state


def measure(cfg, args, device, torch) -> dict:
    """One run of one config: tokens/s of each mode for both libraries (medians over the rounds)
    and the ratios, each taken within a round and then the median over the rounds."""
    from scratchlstm import Adam, SGD
    from scratchlstm.backend import np, synchronize, to_device, to_host
    from scratchlstm.generation import next_token_distribution, sample_from

    V, B, T = cfg["vocab"], cfg["batch"], cfg["bptt"]
    rng = np.random.default_rng(0)
    stream = rng.integers(0, V, size=(T * (args.steps + 1) + 1, B))

    # ---- scratchlstm -----------------------------------------------------------------------
    model = library_model(cfg, device)
    opt = Adam(model.parameters(), lr=1e-3) if args.optimizer == "adam" else SGD(model.parameters(), lr=1.0)
    windows = [(to_device(stream[k * T:(k + 1) * T], device),
                to_device(stream[k * T + 1:(k + 1) * T + 1], device)) for k in range(args.steps + 1)]

    def ours_train(x, y, state):
        return training_step(model, opt, x, y, state)

    def ours_infer(x, y, state):
        return evaluation_window(model, x, y, state)

    def ours_generate(n):                        # what generate() does per token
        sampler = np.random.default_rng(0)
        with model.inference():
            stepper = model.batch_one_stepper()
            token = 0
            for _ in range(n):
                probs = next_token_distribution(to_host(stepper.step(token)), 1.0)
                token = sample_from(probs, sampler)

    # ---- PyTorch ---------------------------------------------------------------------------
    if torch is not None:
        torch_train, torch_infer, torch_generate, twin, tsync = torch_reference(
            cfg, stream, args.steps, device, torch, args.optimizer)

    results = {f"{who}_{mode}": [] for who in ("ours", "torch") for mode in ("train", "infer", "generate")}

    def tokens_per_second(step, windows, sync):
        """Run ``step`` over all windows carrying the state; time all but the first (warm-up)."""
        state = None
        for k, (x, y) in enumerate(windows):
            if k == 1:
                sync()
                time.sleep(SETTLE_SECONDS)       # the other library's threads go idle
                t0 = time.perf_counter()
            state = step(x, y, state)
        sync()
        return args.steps * T * B / (time.perf_counter() - t0)

    def generated_per_second(generate_n):
        generate_n(5)                            # warm-up
        time.sleep(SETTLE_SECONDS)
        t0 = time.perf_counter()
        generate_n(args.tokens)
        return args.tokens / (time.perf_counter() - t0)

    ours_sync = lambda: synchronize(device)  # noqa: E731
    for _ in range(args.rounds):
        model.train()
        results["ours_train"].append(tokens_per_second(ours_train, windows, ours_sync))
        if torch is not None:
            results["torch_train"].append(tokens_per_second(torch_train, twin, tsync))
        results["ours_infer"].append(tokens_per_second(ours_infer, windows, ours_sync))
        if torch is not None:
            results["torch_infer"].append(tokens_per_second(torch_infer, twin, tsync))
        results["ours_generate"].append(generated_per_second(ours_generate))
        if torch is not None:
            results["torch_generate"].append(generated_per_second(torch_generate))
    med = {k: statistics.median(v) if v else float("nan") for k, v in results.items()}
    for mode in ("train", "infer", "generate"):   # ratio within each round, then the median
        ratios = [o / t for o, t in zip(results[f"ours_{mode}"], results[f"torch_{mode}"])]
        med[f"ratio_{mode}"] = statistics.median(ratios) if ratios else float("nan")
    return med


def torch_reference(cfg, stream, steps, device, torch, optimizer="adam"):
    """torch's side of the comparison for one config: an ``nn.Embedding``, ``nn.LSTM`` and
    ``nn.Linear`` (tied to the embedding where the config says so) on ``device``, and its three
    modes as functions. Returns ``(train, infer, generate, windows, sync)``: ``train(x, y,
    state)`` and ``infer(x, y, state)`` return the next state, ``generate(n)`` samples n tokens
    at batch 1, ``windows`` holds ``steps + 1`` (x, y) windows of ``stream`` as tensors and
    ``sync()`` waits for the device."""
    from scratchlstm.backend import np
    from scratchlstm.generation import next_token_distribution, sample_from

    V, E, H, L, T = (cfg[k] for k in ("vocab", "embed", "hidden", "layers", "bptt"))
    tdev = "cuda" if device == "cuda" else "cpu"
    emb = torch.nn.Embedding(V, E).to(tdev)
    lstm = torch.nn.LSTM(E, H, L).to(tdev)
    dec = torch.nn.Linear(H, V).to(tdev)
    if cfg.get("tie", False):
        dec.weight = emb.weight
    tparams = list({id(p): p for m in (emb, lstm, dec) for p in m.parameters()}.values())
    topt = torch.optim.Adam(tparams, lr=1e-3) if optimizer == "adam" else torch.optim.SGD(tparams, lr=1.0)
    windows = [(torch.from_numpy(stream[k * T:(k + 1) * T]).to(tdev),
                torch.from_numpy(stream[k * T + 1:(k + 1) * T + 1]).to(tdev)) for k in range(steps + 1)]

    def sync():
        if tdev == "cuda":
            torch.cuda.synchronize()

    def train(x, y, state):
        out, state = lstm(emb(x), state)
        loss = torch.nn.functional.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
        topt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(tparams, 0.25)
        topt.step()
        return tuple(s.detach() for s in state)

    def infer(x, y, state):
        with torch.no_grad():
            out, state = lstm(emb(x), state)
            torch.nn.functional.cross_entropy(dec(out).reshape(-1, V), y.reshape(-1))
        return state

    def generate(n):
        sampler = np.random.default_rng(0)
        token, state = 0, None
        with torch.no_grad():
            for _ in range(n):
                out, state = lstm(emb(torch.tensor([[token]], device=tdev)), state)
                probs = next_token_distribution(dec(out[0, 0]).cpu().numpy(), 1.0)
                token = sample_from(probs, sampler)

    return train, infer, generate, windows, sync


if __name__ == "__main__":
    main()
