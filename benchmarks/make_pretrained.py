"""Train and export the pretrained checkpoint that ships with scratchlstm.

    OPENBLAS_NUM_THREADS=1 python benchmarks/make_pretrained.py          # ~31 min on 2 CPU cores
    python benchmarks/make_pretrained.py --quick                          # a 1-minute smoke run

The recipe is recipes/covid_pretrained.py (read here, so the two cannot drift apart).
Besides training, this script records samples at fixed points of training (before any step,
after a few dozen steps, then after chosen epochs: lesson 9's "evolution of samples") and the
history, and writes a weights-only checkpoint (no optimizer state) with all of that in its
metadata to scratchlstm/pretrained/covid-bpe.npz, where ``scratchlstm.pretrained.load`` finds it.
The training run itself keeps its resumable checkpoints in runs/covid-pretrained/.
"""
from __future__ import annotations

import argparse
import runpy
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scratchlstm import LSTMLanguageModel                      # noqa: E402
from scratchlstm.checkpoint import save_checkpoint              # noqa: E402
from scratchlstm.data import make_tokenizer, prepare_data       # noqa: E402
from scratchlstm.generation import generate                     # noqa: E402
from scratchlstm.training import Trainer                        # noqa: E402

RECIPE = REPO / "recipes" / "covid_pretrained.py"
EXPORT = REPO / "scratchlstm" / "pretrained" / "covid-bpe.npz"
PROMPTS = ("Q: Do masks work?\nA:", "The vaccine")
SAMPLE_STEPS = (0, 30, 100, 300, 1000)          # global steps at which to sample within training
SAMPLE_SETTINGS = dict(max_new_tokens=60, temperature=0.8, seed=0)


class SamplingTrainer(Trainer):
    """A Trainer that records samples at the global steps in ``sample_steps`` and after every
    epoch (in eval mode, from fixed prompts and a fixed seed, so the samples are comparable)."""

    def __init__(self, *args, sample_steps=SAMPLE_STEPS, **kwargs):
        super().__init__(*args, **kwargs)
        self.sample_steps = set(sample_steps)
        self.samples: list[dict] = []
        self.started = time.perf_counter()

    def record_samples(self, label: str) -> None:
        was_training = self.model.training
        texts = [generate(self.model, self.tokenizer, p, **SAMPLE_SETTINGS) for p in PROMPTS]
        self.samples.append({"when": label, "global_step": self.global_step,
                             "seconds": round(time.perf_counter() - self.started, 1),
                             "texts": [p + t for p, t in zip(PROMPTS, texts)]})
        self.log(f"[samples at {label}] {texts[0][:70]!r}")
        self.model.train(was_training)

    def train_step(self, inputs, targets):
        if self.global_step in self.sample_steps:
            self.record_samples(f"step {self.global_step}")
        return super().train_step(inputs, targets)

    def _end_epoch(self) -> None:
        super()._end_epoch()                  # evaluates (eval mode), then advances self.epoch
        self.record_samples(f"epoch {self.epoch - 1}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (not exported unless --export)")
    parser.add_argument("--export", default=None, help=f"where to write the checkpoint (default {EXPORT})")
    parser.add_argument("--out", default=None, help="training folder (default: the recipe's out)")
    args = parser.parse_args(argv)

    recipe = runpy.run_path(str(RECIPE))
    model_options, train_options = dict(recipe["model"]), dict(recipe["train"])
    if args.quick:
        model_options.update(embed_dim=32, hidden_dim=32)
        train_options.update(epochs=2, max_steps_per_epoch=20)
    export = Path(args.export) if args.export else (None if args.quick else EXPORT)

    tokenizer = make_tokenizer(recipe["tokenizer"], **recipe["tokenizer_options"])
    start = time.perf_counter()
    ids, chars = prepare_data(recipe["data"], tokenizer, max_chars=200_000 if args.quick else None)
    model = LSTMLanguageModel(tokenizer.vocab_size, seed=train_options.get("seed", 0), **model_options)
    print(model, flush=True)
    trainer = SamplingTrainer(model, ids, train_options, tokenizer=tokenizer,
                              out_dir=args.out or recipe["out"], chars=chars,
                              log=lambda line: print(line, flush=True))
    trainer.fit()
    minutes = (time.perf_counter() - start) / 60
    result = {k: v for k, v in trainer.result.items()}
    print(f"trained in {minutes:.1f} min: {result}", flush=True)
    if export is None:
        return 0
    meta = {"kind": "pretrained", "name": "covid-bpe",
            "recipe": {"file": "recipes/covid_pretrained.py", "data": recipe["data"],
                       "tokenizer": recipe["tokenizer"], "tokenizer_options": recipe["tokenizer_options"],
                       "model": model_options, "train": train_options},
            "command": "OPENBLAS_NUM_THREADS=1 python benchmarks/make_pretrained.py",
            "train_minutes": round(minutes, 1), "result": result, "history": trainer.history,
            "samples": trainer.samples, "sample_settings": SAMPLE_SETTINGS,
            "tokens": {split: int(v.size) for split, v in ids.items()}, "chars": chars}
    path = save_checkpoint(export, model.eval(), tokenizer, meta=meta)
    print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
