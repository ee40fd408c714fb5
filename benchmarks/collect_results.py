"""Print one markdown results row per finished training run (``runs/*/history.json``).

    python benchmarks/collect_results.py                 # every run under runs/
    python benchmarks/collect_results.py runs/ptb-small runs/covid-word

Columns: parameters, best epoch, train / valid / test perplexity at the best epoch, validation bits
per character, training tokens per second, and training time (the sum of the epochs, evaluation
excluded).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scratchlstm.models import count_parameters  # noqa: E402


def row(run: Path) -> str | None:
    path = run / "history.json"
    if not path.exists():
        return None
    h = json.loads(path.read_text())
    hist, result, model = h["history"], h.get("result") or {}, h["model"]
    if not hist:
        return None
    best = result.get("best_epoch") or min(hist, key=lambda r: r.get("valid_loss", math.inf))["epoch"]
    at_best = next(r for r in hist if r["epoch"] == best)
    seconds = sum(r["seconds"] for r in hist)
    tok_s = sum(r["tokens_per_s"] * r["seconds"] for r in hist) / max(seconds, 1e-9)
    fmt = lambda v: "-" if v is None else f"{v:.2f}"   # noqa: E731
    return (f"| {run.name} | {count_parameters(model['vocab_size'], model['embed_dim'], model['hidden_dim'], model['num_layers'], model.get('cell', 'lstm'), model['tie_weights']):,} | {best} / {len(hist)} | {fmt(at_best.get('train_ppl'))} | "
            f"{fmt(result.get('valid_ppl', at_best.get('valid_ppl')))} | {fmt(result.get('test_ppl'))} | "
            f"{fmt(result.get('valid_bpc', at_best.get('valid_bpc')))} | {tok_s:,.0f} | {seconds / 60:.1f} min |")


def main(argv=None):
    runs = [Path(p) for p in (argv or sys.argv[1:])] or sorted(Path("runs").glob("*"))
    print("| run | params | best epoch / epochs | train ppl | valid ppl | test ppl | valid bpc | train tok/s | train time |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run in runs:
        line = row(run)
        if line:
            print(line)


if __name__ == "__main__":
    main()
