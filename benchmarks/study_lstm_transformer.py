"""Why transformers replaced LSTMs, measured: the two on the same data, parameters and budget.

Both models are written from scratch in this library and train through the same code: the same
tokenizer, batches, optimizer (AdamW, warm-up then cosine decay over the budget), the same number
of parameters (within a few percent) and the same *CPU budget*, measured as process CPU seconds
(on an idle 2-core machine one CPU second of two threads is half a second of wall time). The two
runs alternate in slices of ``--slice`` CPU seconds, so that a busy machine slows both alike.

    python benchmarks/study_lstm_transformer.py curves --data tinyshakespeare --tokenizer char --minutes 20
    python benchmarks/study_lstm_transformer.py curves --data covid --tokenizer bpe --minutes 12
    python benchmarks/study_lstm_transformer.py curves --data covid --tokenizer unigram --minutes 12
    python benchmarks/study_lstm_transformer.py recall            # the long-range task
    python benchmarks/study_lstm_transformer.py recall --context 48 --minutes 4   # a shorter one
    python benchmarks/study_lstm_transformer.py copy --params 0.2 --batch 8 --minutes 5   # copy over a distance
    python benchmarks/study_lstm_transformer.py stories           # TinyStories sample: a smoke test
    python benchmarks/study_lstm_transformer.py report            # table and figure from the results

Results go to benchmarks/results/lstm_vs_transformer/ (one JSON per experiment, a figure and a
markdown table). ``--minutes`` is the CPU budget of *each* model.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "lstm_vs_transformer"
sys.path.insert(0, str(HERE.parent))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("experiment", choices=["curves", "recall", "copy", "stories", "report"])
    p.add_argument("--data", default="tinyshakespeare")
    p.add_argument("--data-dir", default=os.environ.get("SCRATCHLSTM_DATA", str(HERE.parents[1] / "shared" / "data")))
    p.add_argument("--tokenizer", default="char", choices=["char", "bpe", "unigram"])
    p.add_argument("--vocab-size", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=10.0, help="CPU minutes per model")
    p.add_argument("--slice", type=float, default=30.0, help="CPU seconds per turn")
    p.add_argument("--params", type=float, default=1.0, help="target size in millions of parameters")
    p.add_argument("--context", type=int, default=128, help="bptt of the LSTM = block_size of the transformer")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-chars", type=int, default=None, help="use the first N characters of each split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(OUT))
    return p.parse_args(argv)


# ----------------------------------------------------------------------------------------------
def sized_models(V: int, target: float, context: int, seed: int):
    """An LSTM and a transformer of about ``target`` million parameters each."""
    from scratchlstm import LSTMLanguageModel
    from scratchlstm.transformer import TransformerLanguageModel

    def lstm(H):
        return LSTMLanguageModel(V, H, H, num_layers=2, tie_weights=True, dropout=0.1, seed=seed)

    def transformer(D):
        return TransformerLanguageModel(V, D, 4, 4, context, dropout=0.1, seed=seed)

    def closest(make, sizes):
        from scratchlstm.models import count_parameters
        from scratchlstm.transformer import count_transformer_parameters

        count = {lstm: lambda H: count_parameters(V, H, H, 2, tie_weights=True),
                 transformer: lambda D: count_transformer_parameters(V, D, 4, context)}[make]
        return make(min(sizes, key=lambda size: abs(count(size) - target * 1e6)))

    return {"lstm": closest(lstm, range(64, 1025, 4)),       # 2 layers, tied
            "transformer": closest(transformer, range(64, 513, 4))}   # 4 blocks, 4 heads


class Run:
    """One model's training, advanced slice by slice."""

    def __init__(self, name, model, data, valid, lr, context, batch, budget, seed):
        from scratchlstm import AdamW
        from scratchlstm.text import batchify, bptt_windows

        self.name, self.model = name, model
        self.optimizer = AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        self.base_lr, self.budget, self.context = lr, budget, context
        self.windows = list(bptt_windows(batchify(data, batch), context))
        self.valid = valid
        self.cpu = 0.0
        self.step = 0
        self.tokens = 0
        self.curve = []          # (cpu seconds, tokens seen, valid loss)
        self.scores = []         # (cpu seconds, task score), when the experiment has one
        self.state = None
        self.rng_order = __import__("numpy").random.default_rng(seed)

    def lr_at(self):
        warm = min(1.0, (self.step + 1) / 100)
        progress = min(1.0, self.cpu / self.budget)
        return self.base_lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    def train_for(self, seconds):
        from scratchlstm.training import train_step

        start = time.process_time()
        self.model.train()
        while time.process_time() - start < seconds and self.cpu + (time.process_time() - start) < self.budget:
            inputs, targets = self.windows[self.step % len(self.windows)]
            if self.step % len(self.windows) == 0:
                self.state = None
            self.optimizer.lr = self.lr_at()
            self.model.seed_dropout(self.step)
            _, self.state = train_step(self.model, self.optimizer, inputs, targets, self.state, clip=1.0)
            self.step += 1
            self.tokens += targets.size
        self.cpu += time.process_time() - start

    def evaluate(self):
        from scratchlstm.training import evaluate

        loss = evaluate(self.model, self.valid, batch_size=EVAL_STREAMS, bptt=self.context)
        self.curve.append((self.cpu, self.tokens, loss))
        return loss


def generation_speed(model, tokenizer, n=200):
    from scratchlstm.generation import stream

    start = time.perf_counter()
    text = "".join(t.text for t in stream(model, tokenizer, "", n, temperature=0.8, seed=1))
    return n / (time.perf_counter() - start), text


def load_tokens(args):
    from scratchlstm.data import make_tokenizer, prepare_data

    tokenizer = make_tokenizer(args.tokenizer, vocab_size=args.vocab_size)
    ids, chars = prepare_data(args.data, tokenizer, args.data_dir, max_chars=args.max_chars)
    return tokenizer, ids, chars


SLICE_VALID_TOKENS = 60_000       # validation tokens scored after every slice
EVAL_STREAMS = 8                  # batch columns of every evaluation


def slice_validation(valid, sequence_length=None):
    """The validation prefix scored after every slice: about ``SLICE_VALID_TOKENS`` tokens, and
    for a stream of sequences of ``sequence_length`` tokens, whole sequences in each of the
    ``EVAL_STREAMS`` columns."""
    size = SLICE_VALID_TOKENS
    if sequence_length is not None:
        block = EVAL_STREAMS * sequence_length
        size = max(block, SLICE_VALID_TOKENS // block * block)
    return valid[:size]


def race(args, tokenizer, ids, chars, tag, measure=None, sequence_length=None):
    """Train both models in alternation on ``ids``; returns the result dict. ``measure(model)``
    adds a task-specific score (e.g. recall accuracy) at every evaluation. ``sequence_length``:
    for a stream of independent sequences (the synthetic tasks), the length of each, so that the
    validation prefix scored after every slice is cut at whole sequences per column and its
    windows start where the sequences start, as the training windows do (a transformer's
    positions are learned from those starts)."""
    from scratchlstm.training import bits_per_char, evaluate

    models = sized_models(tokenizer.vocab_size, args.params, args.context, args.seed)
    budget = args.minutes * 60
    valid = slice_validation(ids["valid"], sequence_length)
    runs = {name: Run(name, m, ids["train"], valid, lr={"lstm": 3e-3, "transformer": 1e-3}[name],
                      context=args.context, batch=args.batch, budget=budget, seed=args.seed)
            for name, m in models.items()}
    for run in runs.values():
        run.evaluate()
    while any(r.cpu < r.budget for r in runs.values()):
        for run in runs.values():
            if run.cpu < run.budget:
                run.train_for(min(args.slice, run.budget - run.cpu))
                loss = run.evaluate()
                extra = ""
                if measure is not None:
                    score = measure(run.model)
                    run.scores.append((run.cpu, score))
                    extra = f" score {score}"
                print(f"{tag} {run.name:11s} cpu {run.cpu:7.0f}s tokens {run.tokens:10,d} "
                      f"valid {loss:.4f}{extra}", flush=True)
    result = {"experiment": tag, "data": args.data, "tokenizer": args.tokenizer,
              "vocab_size": tokenizer.vocab_size, "budget_cpu_s": budget, "context": args.context,
              "batch": args.batch, "threads": args.threads, "models": {}}
    for name, run in runs.items():
        full = evaluate(run.model, ids["valid"], batch_size=EVAL_STREAMS, bptt=args.context)
        gen_speed, sample = generation_speed(run.model, tokenizer)
        result["models"][name] = {
            "repr": repr(run.model), "parameters": run.model.num_parameters(), "steps": run.step,
            "tokens": run.tokens, "train_tokens_per_cpu_s": run.tokens / run.cpu,
            "valid_loss": full, "valid_bpc": bits_per_char(full, ids["valid"].size - 1, chars["valid"]),
            "generation_tokens_per_s": gen_speed, "sample": sample, "curve": run.curve,
            "scores": run.scores}
        print(name, json.dumps({k: v for k, v in result["models"][name].items() if k != "curve"})[:400])
    return result


def recall_sequences(n: int, length: int, rng):
    """The long-range task: ``n`` sequences of ``length`` tokens. Noise tokens (0..19), and once a
    *key* (20) followed by a value (22..31); later, after a gap of 8 to length - 4 tokens, a *query*
    (21): the next token is the value again. Predicting it needs the token that followed the key,
    however far back it was. Returns the sequences (n, length) and the positions (query index)."""
    from scratchlstm.backend import np

    seqs = rng.integers(0, 20, size=(n, length))
    queries = np.empty(n, dtype=np.int64)
    for k in range(n):
        gap = int(rng.integers(8, length - 3))
        start = int(rng.integers(0, length - gap - 1))
        value = 22 + int(rng.integers(0, 10))
        seqs[k, start], seqs[k, start + 1] = 20, value
        seqs[k, start + gap], seqs[k, start + gap + 1] = 21, value
        queries[k] = start + gap
    return seqs, queries


def recall_accuracy(model, seqs, queries, batch: int = 64):
    """Accuracy of the next-token prediction right after each query, by gap bucket."""
    from scratchlstm.backend import np, to_host

    model.eval()
    correct, gaps = [], []
    for k in range(0, len(seqs), batch):
        block = seqs[k:k + batch]
        logits, _ = model(block.T[:-1].copy())                   # (T - 1, b, V), a fresh state
        predicted = to_host(logits).argmax(axis=-1)              # (T - 1, b)
        q = queries[k:k + batch]
        correct.extend(predicted[q, np.arange(len(q))] == block[np.arange(len(q)), q + 1])
        starts = np.array([int(np.flatnonzero(row == 20)[0]) for row in block])
        gaps.extend(q - starts)
    correct, gaps = np.array(correct), np.array(gaps)
    buckets = {}
    for low, high in ((8, 32), (32, 64), (64, 96), (96, 1 << 30)):
        sel = (gaps >= low) & (gaps < high)
        if sel.any():
            buckets[f"{low}-{high if high < 1 << 30 else 'end'}"] = float(correct[sel].mean())
    return float(correct.mean()), buckets


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.experiment == "report":
        return report(out)
    if args.experiment == "curves":
        tokenizer, ids, chars = load_tokens(args)
        result = race(args, tokenizer, ids, chars, f"{args.data}-{args.tokenizer}")
    elif args.experiment == "stories":
        args.data = str(Path(args.data_dir) / "tinystories" / "tinystories_sample.txt")
        args.minutes = min(args.minutes, 1.0)
        tokenizer, ids, chars = load_tokens(args)
        result = race(args, tokenizer, ids, chars, "tinystories-smoke")
    elif args.experiment == "copy":
        result = copy_task(args)
    else:
        result = recall(args)
    path = out / f"{result['experiment']}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"wrote {path}")


def recall(args):
    """Train both on the long-range task; report the accuracy right after the query, by gap."""
    from scratchlstm.backend import np
    from scratchlstm.text import CharTokenizer

    rng = np.random.default_rng(args.seed)
    length = args.context + 1                  # a window of `context` inputs and its targets
    n_train = 32 * 64                          # whole sequences per batch column: windows align
    train, _ = recall_sequences(n_train, length, rng)
    valid, queries = recall_sequences(1024, length, rng)
    ids = {"train": train[:, :-1].reshape(-1), "valid": valid[:, :-1].reshape(-1)}
    tokenizer = CharTokenizer().fit("".join(chr(65 + k) for k in range(31)))   # 31 + <unk> = 32 ids
    tag = "recall" if args.context == 128 else f"recall-{args.context}"     # the default context, or which
    result = race(args, tokenizer, ids, {"train": ids["train"].size, "valid": ids["valid"].size}, tag,
                  measure=lambda model: recall_accuracy(model, valid, queries), sequence_length=length - 1)
    return result


COPY_SYMBOLS = 64                 # ids 0..63 are symbols, 64 is the separator


def copy_sequences(n: int, length: int, rng, min_period: int = 5, max_period: int = 64):
    """The copy task: ``n`` sequences of ``length`` tokens, each a segment of L distinct random
    symbols and a separator, repeated: ``s1 .. sL | s1 .. sL | s1 ...``. From the first separator
    on, every next token is the one ``d = L + 1`` places back, so predicting it means reaching
    exactly ``d`` tokens into the past; ``d`` is drawn per sequence from ``min_period`` to
    ``max_period``. The symbols of a segment are distinct, so "find where the current token was
    last seen and copy its successor" is always right. Almost every target is predictable (unlike
    the recall task, whose one predictable token per sequence is drowned by noise).

    Returns
    -------
    seqs : (n, length) int64
    periods : (n,) int64, the distance ``d`` of each sequence
    """
    from scratchlstm.backend import np

    seqs = np.empty((n, length), dtype=np.int64)
    periods = rng.integers(min_period, max_period + 1, size=n)
    for k, d in enumerate(periods):
        unit = np.append(rng.permutation(COPY_SYMBOLS)[:d - 1], COPY_SYMBOLS)
        seqs[k] = np.resize(unit, length)
    return seqs, periods


COPY_BUCKETS = ((5, 17), (17, 33), (33, 49), (49, 65))      # distances d, as [low, high)


def _by_distance(hits, counts, periods):
    """Pooled accuracy ``sum(hits) / sum(counts)`` per distance bucket of ``COPY_BUCKETS``."""
    buckets = {}
    for low, high in COPY_BUCKETS:
        sel = (periods >= low) & (periods < high)
        if sel.any():
            buckets[f"{low}-{high - 1}"] = float(hits[sel].sum() / counts[sel].sum())
    return float(hits.sum() / counts.sum()), buckets


def _predictable(block, periods):
    """(b, T - 1) mask of the targets at position t + 1 >= d: those a copy can predict."""
    from scratchlstm.backend import np

    return np.arange(1, block.shape[1])[None, :] >= periods[:, None]


def copy_accuracy(model, seqs, periods, batch: int = 64):
    """Next-token accuracy on the predictable targets (those at least ``d`` places in), overall
    and by distance bucket."""
    from scratchlstm.backend import np, to_host

    model.eval()
    hits, counts = np.zeros(len(seqs)), np.zeros(len(seqs))
    for k in range(0, len(seqs), batch):
        block = seqs[k:k + batch]
        logits, _ = model(block.T[:-1].copy())                   # (T - 1, b, V), a fresh state
        predicted = to_host(logits).argmax(axis=-1).T            # (b, T - 1): the guess for t + 1
        predictable = _predictable(block, periods[k:k + batch])
        correct = (predicted == block[:, 1:]) & predictable
        hits[k:k + batch], counts[k:k + batch] = correct.sum(axis=1), predictable.sum(axis=1)
    return _by_distance(hits, counts, periods)


def copy_separator_baseline(seqs, periods):
    """The accuracy of always predicting the separator, scored like ``copy_accuracy``: a little
    under ``1/d``, what a model gets from the token counts alone, with no memory of the segment."""
    predictable = _predictable(seqs, periods)
    hits = ((seqs[:, 1:] == COPY_SYMBOLS) & predictable).sum(axis=1)
    return _by_distance(hits, predictable.sum(axis=1), periods)


def copy_data(seed: int, batch: int, context: int):
    """The copy task's sequences of one run, made from its seed: ``batch * 512`` training
    sequences (whole sequences per batch column, so windows align with them) and 512 validation
    sequences with their periods. The longest period is 64, or half the sequence if that is
    shorter, so that every sequence has targets to copy."""
    from scratchlstm.backend import np

    rng = np.random.default_rng(seed)
    longest = min(64, (context + 1) // 2)
    train, _ = copy_sequences(batch * 512, context + 1, rng, max_period=longest)
    valid, periods = copy_sequences(512, context + 1, rng, max_period=longest)
    return train, valid, periods


def copy_task(args):
    """Train both on the copy task; report next-token accuracy by the distance copied over."""
    from scratchlstm.text import CharTokenizer

    train, valid, periods = copy_data(args.seed, args.batch, args.context)
    ids = {"train": train[:, :-1].reshape(-1), "valid": valid[:, :-1].reshape(-1)}
    tokenizer = CharTokenizer().fit("".join(chr(48 + k) for k in range(COPY_SYMBOLS + 1)))  # 65 + <unk>
    tag = "copy" if args.context == 128 else f"copy-{args.context}"
    result = race(args, tokenizer, ids, {"train": ids["train"].size, "valid": ids["valid"].size}, tag,
                  measure=lambda model: copy_accuracy(model, valid, periods), sequence_length=args.context)
    result["seed"] = args.seed
    result["separator_baseline"] = copy_separator_baseline(valid, periods)
    return result


def report(out: Path) -> int:
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    if not results:
        print(f"no results in {out}")
        return 1
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["| experiment | model | parameters | valid loss | bits/char | train tok per CPU-s | "
             "generation tok/s | tokens seen |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 3.4), squeeze=False)
    for ax, r in zip(axes[0], results):
        for name, m in r["models"].items():
            lines.append(f"| {r['experiment']} | {name} | {m['parameters']:,} | {m['valid_loss']:.4f} | "
                         f"{m['valid_bpc']:.3f} | {m['train_tokens_per_cpu_s']:,.0f} | "
                         f"{m['generation_tokens_per_s']:,.0f} | {m['tokens']:,} |")
            cpu, _, loss = zip(*m["curve"])
            ax.plot([c / 60 for c in cpu], loss, label=name)
        ax.set_title(r["experiment"], fontsize=9)
        ax.set_xlabel("CPU minutes")
        ax.set_ylabel("validation loss (nats/token)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=90)
    (out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main() or 0)
