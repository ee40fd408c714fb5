"""The AWD-LSTM ablation ladder: the full recipe, then the same with one regulariser removed at a
time, each trained with the same budget; the change in perplexity beside the paper's table.

Merity, Keskar & Socher (2017), Table 4 (PTB test perplexity, change when one piece is removed
from the 3 x 1150 model trained for hundreds of epochs): weight drop +11.6, NT-ASGD +6.4,
embedding dropout +5.4, weight decay +3.7, AR/TAR +3.0, variable sequence length +1.6. Here the
rung without NT-ASGD trains with plain SGD at the same learning rate (and so never averages); the
others average after ``--average-after`` epochs at the latest, as the PTB recipe does, because a
few epochs end before the non-monotone trigger fires. This ladder runs a small model for a few epochs, so
its numbers answer a different question: what each regulariser buys on a *small budget*, where
regularisation that slows early learning can cost more than it gives.

    python benchmarks/ablate_awd.py                               # COVID words, every rung
    python benchmarks/ablate_awd.py --data ptb --data-dir ../shared/data --epochs 6
    python benchmarks/ablate_awd.py --rungs full --seed 1         # the full recipe again: the noise
    python benchmarks/ablate_awd.py --report                      # the table from saved results

Each rung writes ``benchmarks/results/awd_ablation/<data>/<rung>.json`` when it finishes
(``<rung>-seed<N>.json`` for a seed other than 0), and a rerun skips the rungs already done, so
the ladder can be run in several sittings. A change smaller than the difference between two seeds
of the full recipe is not a finding: the report prints that difference under the table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

#: The full recipe's regularisers, and what each rung changes (one at a time).
FULL_MODEL = dict(dropout=0.3, input_dropout=0.3, hidden_dropout=0.2, embedding_dropout=0.1,
                  weight_drop=0.3, ar_alpha=2.0, tar_beta=1.0, locked_dropout=True)
FULL_TRAIN = dict(optimizer="ntasgd", lr=30.0, nonmono=2, weight_decay=1.2e-6, variable_bptt=True)
RUNGS = {
    "full": ({}, {}),
    "no weight drop": (dict(weight_drop=0.0), {}),
    "no NT-ASGD (plain SGD)": ({}, dict(optimizer="sgd")),
    "no embedding dropout": (dict(embedding_dropout=0.0), {}),
    "no weight decay": ({}, dict(weight_decay=0.0)),
    "no AR/TAR": (dict(ar_alpha=0.0, tar_beta=0.0), {}),
    "no variable BPTT": ({}, dict(variable_bptt=False)),
}
#: The paper's change in PTB test perplexity when the piece is removed (Table 4).
PAPER = {"no weight drop": 11.6, "no NT-ASGD (plain SGD)": 6.4, "no embedding dropout": 5.4,
         "no weight decay": 3.7, "no AR/TAR": 3.0, "no variable BPTT": 1.6}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="covid", help="corpus name (default covid)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--hidden", type=int, default=256, help="units per layer = embedding size (tied)")
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--average-after", type=int, default=None,
                   help="NT-ASGD averages after this epoch at the latest (default 60%% of --epochs)")
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--bptt", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="initialisation, dropout and batch-order seed")
    p.add_argument("--max-chars", type=int, default=None, help="the first N characters of each split (smoke runs)")
    p.add_argument("--rungs", nargs="*", default=list(RUNGS), help="which rungs (default all)")
    p.add_argument("--report", action="store_true", help="only print the table of saved results")
    p.add_argument("--out", default=str(HERE / "results" / "awd_ablation"))
    return p.parse_args(argv)


def slug(rung: str, seed: int = 0) -> str:
    name = "".join(ch if ch.isalnum() else "-" for ch in rung.lower()).strip("-")
    return name if seed == 0 else f"{name}-seed{seed}"


def run_rung(rung: str, args, ids, chars, tokenizer, out: Path) -> dict:
    from scratchlstm import LSTMLanguageModel
    from scratchlstm.training import Trainer

    model_changes, train_changes = RUNGS[rung]
    model = LSTMLanguageModel(tokenizer.vocab_size, args.hidden, args.hidden, args.layers,
                              tie_weights=True, init="uniform", init_range=0.1, seed=args.seed,
                              **{**FULL_MODEL, **model_changes})
    config = dict(epochs=args.epochs, batch_size=args.batch, eval_batch_size=10, bptt=args.bptt,
                  clip=0.25, schedule="none", progress=False, seed=args.seed, **{**FULL_TRAIN, **train_changes})
    if config["optimizer"] == "ntasgd":
        config["average_after"] = args.average_after or max(1, round(0.6 * args.epochs))
    start = time.perf_counter()
    trainer = Trainer(model, ids, config, tokenizer=tokenizer, chars=chars,
                      out_dir=out / "runs" / slug(rung, args.seed), log=lambda line: print(f"[{rung}] {line}", flush=True))
    trainer.fit()
    result = {"rung": rung, "seed": args.seed, "model_changes": model_changes, "train_changes": train_changes,
              "config": config, "model": model.config, "minutes": (time.perf_counter() - start) / 60,
              "history": trainer.history, "result": trainer.result,
              "switched_at_epoch": getattr(trainer.optimizer, "switched_at_epoch", None)}
    (out / f"{slug(rung, args.seed)}.json").write_text(json.dumps(result, indent=1))
    return result


def load_ladder(out: Path) -> tuple[dict, list]:
    """The saved rungs of seed 0, in ladder order ({rung: result}), and the full recipe's runs
    with other seeds (a list of results)."""
    results = {rung: json.loads((out / f"{slug(rung)}.json").read_text())
               for rung in RUNGS if (out / f"{slug(rung)}.json").is_file()}
    repeats = [json.loads(p.read_text()) for p in sorted(out.glob(f"{slug('full')}-seed*.json"))]
    return results, repeats


def report(out: Path) -> str:
    results, repeats = load_ladder(out)
    if "full" not in results:
        return f"no result for the full recipe in {out} yet"
    full = results["full"]["result"]
    lines = ["| rung | valid ppl | test ppl | change in test ppl | paper's change (PTB, Table 4) | minutes |",
             "|---|---:|---:|---:|---:|---:|"]
    for rung, r in results.items():
        res = r["result"]
        change = "" if rung == "full" else f"{res['test_ppl'] - full['test_ppl']:+.1f}"
        paper = f"+{PAPER[rung]}" if rung in PAPER else ""
        lines.append(f"| {rung} | {res['valid_ppl']:.1f} | {res['test_ppl']:.1f} | {change} | {paper} "
                     f"| {r['minutes']:.0f} |")
    if repeats:
        tests = [full["test_ppl"]] + [r["result"]["test_ppl"] for r in repeats]
        valids = [full["valid_ppl"]] + [r["result"]["valid_ppl"] for r in repeats]
        lines.append("")
        lines.append(f"The full recipe with {len(tests)} seeds: test ppl "
                     f"{', '.join(f'{t:.1f}' for t in tests)} (spread {max(tests) - min(tests):.1f}), "
                     f"valid ppl {', '.join(f'{v:.1f}' for v in valids)} (spread {max(valids) - min(valids):.1f}).")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    out = Path(args.out) / Path(args.data).name
    out.mkdir(parents=True, exist_ok=True)
    if not args.report:
        from scratchlstm.data import make_tokenizer, prepare_data

        unknown = [r for r in args.rungs if r not in RUNGS]
        if unknown:
            sys.exit(f"unknown rung(s) {unknown}; choose from {list(RUNGS)}")
        tokenizer = make_tokenizer("word", min_freq=2 if args.data == "covid" else 1,
                                   word_mode="whitespace" if args.data == "ptb" else None)
        ids, chars = prepare_data(args.data, tokenizer, args.data_dir, max_chars=args.max_chars)
        for rung in args.rungs:
            if (out / f"{slug(rung, args.seed)}.json").is_file():
                print(f"[{rung}] done before: skipped")
                continue
            r = run_rung(rung, args, ids, chars, tokenizer, out)
            print(f"[{rung}] valid ppl {r['result']['valid_ppl']:.2f}, test ppl {r['result']['test_ppl']:.2f} "
                  f"in {r['minutes']:.1f} min", flush=True)
    table = report(out)
    print(table)
    (out / "table.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
