"""The Python parts of benchmarks/gpu_check.sh: CPU-vs-GPU parity and the cost of small operations.

    python benchmarks/gpu_check.py parity --out parity.json          # float64, medium shape
    python benchmarks/gpu_check.py small-ops --out small_ops.json     # us per call on the GPU
    python benchmarks/gpu_check.py train-summary --run DIR --seconds S --out train_covid.json

``--tiny`` shrinks every shape (for running the script through the strict CuPy stand-in in the
test suite, where the numbers mean nothing). Each command prints a short table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchlstm import LSTMLanguageModel, relative_error  # noqa: E402
from scratchlstm.backend import np, synchronize, to_device, to_host, xp_for  # noqa: E402

MEDIUM = dict(vocab=10_000, hidden=650, layers=2, batch=20, bptt=35)
TINY = dict(vocab=300, hidden=24, layers=2, batch=4, bptt=6)


def device_name() -> str:
    """What device 'cuda' is here: the GPU's name, or the stand-in's."""
    cp = xp_for("cuda")
    if getattr(cp, "__strict_standin__", False):
        return "strict CuPy stand-in (NumPy on the host: numbers, not speed)"
    props = cp.cuda.runtime.getDeviceProperties(0)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def write(path, payload: dict) -> None:
    Path(path).write_text(json.dumps(payload, indent=2))


# ----------------------------------------------------------------------------------------------
def parity(args) -> int:
    """Logits, loss and every gradient of one forward/backward pass, CPU against GPU, float64.

    Same weights (drawn on the host), same ids, dropout 0.5 on (the masks are a function of seed
    and step, so both devices drop the same units), untied weights so that every parameter has
    its own gradient.
    """
    shape = TINY if args.tiny else MEDIUM
    V, H, L, B, T = (shape[k] for k in ("vocab", "hidden", "layers", "batch", "bptt"))
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    results = {}
    for device in ("cpu", "cuda"):
        model = LSTMLanguageModel(V, H, H, L, dropout=0.5, dtype="float64", seed=0, device=device).train()
        model.seed_dropout(1, step=0)
        start = time.perf_counter()
        logits, _ = model(ids)
        loss, dlogits = model.loss(logits, model.to_device_ids(targets))
        model.zero_grad()
        model.backward(dlogits)
        synchronize(device)
        seconds = time.perf_counter() - start
        results[device] = (to_host(logits), float(loss),
                           {n: to_host(p.grad) for n, p in model.named_parameters()}, seconds)
    (lc, loss_c, gc, sc), (lg, loss_g, gg, sg) = results["cpu"], results["cuda"]
    errors = {"logits": relative_error(lc, lg), "loss": abs(loss_c - loss_g) / abs(loss_c)}
    errors.update({f"grad {name}": relative_error(gc[name], gg[name]) for name in gc})
    worst = max(errors.values())
    ok = worst < 1e-10
    payload = {"device": device_name(), "shape": shape, "dtype": "float64", "dropout": 0.5,
               "relative_errors": errors, "worst": worst, "passed": ok, "tolerance": 1e-10,
               "seconds_forward_backward": {"cpu": sc, "cuda_first_call": sg}}
    write(args.out, payload)
    print(f"parity on {payload['device']}: V {V}, {L}x{H}, B {B}, T {T}, float64, dropout 0.5")
    for name, err in errors.items():
        print(f"  {name:28s} relative error {err:.2e}")
    print(f"  worst {worst:.2e}: {'PASSED' if ok else 'FAILED'} (tolerance 1e-10)")
    return 0 if ok else 1


# ----------------------------------------------------------------------------------------------
def _per_call_us(fn, device: str, repeats: int) -> float:
    """Median microseconds per call over 5 timed batches of ``repeats`` calls, after a warm-up
    (kernels compile on first use), synchronising around each batch."""
    for _ in range(3):
        fn()
    synchronize(device)
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        synchronize(device)
        batches.append((time.perf_counter() - start) / repeats * 1e6)
    return statistics.median(batches)


def small_ops(args) -> int:
    """What one small CuPy operation costs: a launch-bound LSTM step is made of these."""
    from scratchlstm.nn import fast
    from scratchlstm.nn.counter_random import CounterRandom

    shape = TINY if args.tiny else MEDIUM
    H, B, T = shape["hidden"], shape["batch"], shape["bptt"]
    repeats = 5 if args.tiny else 200
    cp = xp_for("cuda")
    rng = np.random.default_rng(0)

    def dev(*size):
        return to_device(rng.standard_normal(size).astype(np.float32), "cuda")

    row, other, h, Wh = dev(B, 4 * H), dev(B, 4 * H), dev(B, H), dev(H, 4 * H)
    out = cp.empty_like(row)
    ids = rng.integers(0, 100, (T, B))
    counter = CounterRandom(0)
    counter.xp = cp
    x, h0, c0, Wx, b = dev(T, B, H), dev(B, H), dev(B, H), dev(H, 4 * H), dev(4 * H)
    workspace = {}

    def lstm_layer():
        hs, _, cache = fast.lstm_forward(x, h0, c0, Wx, Wh, b, workspace=workspace)
        fast.lstm_backward(hs, cache, workspace=workspace)

    ops = {
        f"add (B, 4H) = ({B}, {4 * H}), out=": lambda: cp.add(row, other, out=out),
        f"tanh (B, 4H) in place": lambda: cp.tanh(out, out=out),
        f"matmul h (B, H) @ Wh (H, 4H), out=": lambda: cp.matmul(h, Wh, out=out),
        "sum of (B, 4H) to a device scalar": lambda: row.sum(),
        "float(device scalar): read back, a sync": lambda: float(row[0, 0]),
        f"host -> device copy of (T, B) = ({T}, {B}) ids": lambda: cp.asarray(ids),
        "create cupy.random.default_rng(0)": lambda: cp.random.default_rng(0),
        f"CounterRandom.random((T, B, H)) float32": lambda: counter.random((T, B, H), dtype=np.float32),
        f"one LSTM layer forward + backward, T={T}": lstm_layer,
    }
    generator = cp.random.default_rng(0)
    ops[f"Generator.random((T, B, H)) float32"] = lambda: generator.random((T, B, H), dtype=np.float32)
    timings = {name: _per_call_us(fn, "cuda", 2 if "LSTM" in name else repeats) for name, fn in ops.items()}
    payload = {"device": device_name(), "shape": shape, "microseconds_per_call": timings}
    strict = getattr(cp, "strict", None)
    if strict is not None:                     # the stand-in counts what real CuPy cannot
        with strict.counting() as seen:
            lstm_layer()
        payload["standin_launches_one_layer_forward_backward"] = seen.launches
    write(args.out, payload)
    print(f"small operations on {payload['device']} (median us per call, after warm-up)")
    for name, us in timings.items():
        print(f"  {name:48s} {us:12,.1f}")
    return 0


# ----------------------------------------------------------------------------------------------
def train_summary(args) -> int:
    """One epoch of examples/train_covid.py: wall time (from the shell), the trainer's own epoch
    time and tokens/s (from history.json)."""
    history = json.loads((Path(args.run) / "history.json").read_text())
    row = history["history"][0]
    payload = {"device": device_name(), "wall_seconds": args.seconds, "epoch_seconds": row["seconds"],
               "tokens_per_s": row["tokens_per_s"], "train_ppl": row["train_ppl"],
               "valid_ppl": row.get("valid_ppl"), "model": history["model"],
               "train": history["config"]}
    write(args.out, payload)
    print(f"train_covid.py, one epoch on {payload['device']}: {row['seconds']:.1f} s training, "
          f"{row['tokens_per_s']:,.0f} tokens/s, {args.seconds:.0f} s wall (with data, kernel warm-up, "
          f"evaluation and samples); valid perplexity {payload['valid_ppl']:.1f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("parity", "small-ops"):
        p = sub.add_parser(name)
        p.add_argument("--out", required=True)
        p.add_argument("--tiny", action="store_true", help="tiny shapes (for the stand-in)")
    p = sub.add_parser("train-summary")
    p.add_argument("--run", required=True, help="the run's output folder (history.json)")
    p.add_argument("--seconds", type=float, required=True, help="wall time measured by the caller")
    p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    return {"parity": parity, "small-ops": small_ops, "train-summary": train_summary}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
