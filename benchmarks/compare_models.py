"""Model comparison on the COVID corpus (word level): which architecture choices matter?

* cell: vanilla RNN vs GRU vs LSTM at (nearly) equal parameter count (hidden sizes solved for);
* depth: 1 vs 2 vs 3 LSTM layers;
* regularisation: no dropout vs dropout 0.3 vs dropout 0.3 with tied embedding/decoder weights.

Every run uses the same data, tokenizer, optimiser (Adam 3e-3, clip 0.25, batch 20, BPTT 35,
LR / 4 on plateau) and number of epochs, and reports parameters, train/valid/test perplexity, best
epoch, tokens/s and wall time. A table (markdown) and a figure of the validation curves are written
to --out.

    python benchmarks/compare_models.py --epochs 4
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchlstm import LSTMLanguageModel                 # noqa: E402
from scratchlstm.models import count_parameters          # noqa: E402
from scratchlstm.data import make_tokenizer, prepare_data  # noqa: E402
from scratchlstm.plots import plot_curves                  # noqa: E402
from scratchlstm.training import Trainer                   # noqa: E402


def matching_hidden(vocab, embed, layers, cell, budget):
    """The hidden size whose model has the parameter count closest to ``budget``."""
    return min(range(16, 2049, 4), key=lambda h: abs(count_parameters(vocab, embed, h, layers, cell) - budget))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=256, help="LSTM hidden size (the reference)")
    parser.add_argument("--embed", type=int, default=256)
    parser.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs)")
    parser.add_argument("--out", default="benchmarks/results")
    parser.add_argument("--runs", default="runs/compare")
    parser.add_argument("--only", nargs="*", help="names of the runs to do (default: all)")
    args = parser.parse_args(argv)

    tokenizer = make_tokenizer("word", min_freq=2)
    ids, chars = prepare_data("covid", tokenizer)
    V, E, H = tokenizer.vocab_size, args.embed, args.hidden
    budget = count_parameters(V, E, H, 2, "lstm")
    h_gru = matching_hidden(V, E, 2, "gru", budget)
    h_rnn = matching_hidden(V, E, 2, "rnn", budget)
    base = dict(embed_dim=E, dropout=0.3)
    runs = {
        "LSTM 2x%d" % H: dict(base, hidden_dim=H, num_layers=2, cell="lstm"),
        "GRU 2x%d" % h_gru: dict(base, hidden_dim=h_gru, num_layers=2, cell="gru"),
        "RNN 2x%d" % h_rnn: dict(base, hidden_dim=h_rnn, num_layers=2, cell="rnn"),
        "LSTM 1 layer": dict(base, hidden_dim=H, num_layers=1),
        "LSTM 3 layers": dict(base, hidden_dim=H, num_layers=3),
        "LSTM no dropout": dict(base, hidden_dim=H, num_layers=2, dropout=0.0),
        "LSTM dropout + tied": dict(base, hidden_dim=E, num_layers=2, tie_weights=True),
    }
    if args.only:
        runs = {k: v for k, v in runs.items() if k in args.only}
    train = dict(epochs=args.epochs, batch_size=20, eval_batch_size=10, bptt=35, optimizer="adam", lr=3e-3,
                 clip=0.25, schedule="plateau", plateau_factor=0.25, max_steps_per_epoch=args.max_steps)
    rows, curves = [], {}
    for name, options in runs.items():
        model = LSTMLanguageModel(V, seed=0, **options)
        start = time.perf_counter()
        folder = Path(args.runs) / name.replace(" ", "_").lower()
        trainer = Trainer(model, ids, train, tokenizer=tokenizer, out_dir=folder, chars=chars,
                          log=lambda line, name=name: print(f"[{name}] {line}", flush=True))
        history = trainer.fit()
        wall = time.perf_counter() - start
        r = trainer.result
        best = next(h for h in history if h["epoch"] == r["best_epoch"])
        tok_s = sum(h["tokens_per_s"] * h["seconds"] for h in history) / sum(h["seconds"] for h in history)
        rows.append(dict(name=name, params=model.num_parameters(), train_ppl=best["train_ppl"],
                         valid_ppl=r["valid_ppl"], test_ppl=r["test_ppl"], best_epoch=r["best_epoch"],
                         tokens_per_s=tok_s, wall_s=wall))
        curves[name] = [h["valid_ppl"] for h in history]

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"COVID corpus, word level (vocabulary {V:,}), {args.epochs} epochs, Adam 3e-3, batch 20, BPTT 35.",
             "", "| model | params | train ppl | valid ppl | test ppl | best epoch | tokens/s | wall time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['params']:,} | {r['train_ppl']:.1f} | {r['valid_ppl']:.1f} | "
                     f"{r['test_ppl']:.1f} | {r['best_epoch']} | {r['tokens_per_s']:,.0f} | {r['wall_s'] / 60:.1f} min |")
    table = "\n".join(lines)
    print("\n" + table)
    (out / "compare_models.md").write_text(table + "\n")
    (out / "compare_models.json").write_text(json.dumps(rows, indent=2))
    plot_curves(curves, out / "compare_models.png", title="COVID corpus (word level): validation perplexity")
    return 0


if __name__ == "__main__":
    sys.exit(main())
