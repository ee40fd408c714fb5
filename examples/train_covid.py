"""Train an LSTM language model on the COVID-19 corpus that ships with scratchlstm.

    python examples/train_covid.py                 # GPU if CuPy and a GPU are present, else CPU
    python examples/train_covid.py --quick         # a smoke run: 42 s measured on 2 shared CPU cores
    python examples/train_covid.py --tokenizer bpe --epochs 20
    python examples/train_covid.py --data ../shared/data/covid   # any folder with train/valid/test
    python examples/train_covid.py --resume runs/covid-word/last.npz

It prints perplexity every epoch, keeps the best weights in runs/covid-<tokenizer>/best.npz,
draws the learning curves into curves.png next to it, and ends with samples at a few temperatures.
Press Ctrl-C at any time: a resumable checkpoint is saved first.

What it trains comes from one recipe file in recipes/ (the same files `scratchlstm train --config`
reads, so the two cannot disagree):

  on a GPU   recipes/covid_word_gpu.py: Zaremba et al.'s "medium" shape, 2 x 650 LSTM, tied
             weights (10.8M parameters), dropout 0.5, Adam, up to 30 epochs with early stopping
             (patience 4). Time: not yet measured on a GPU. The step is launch-bound (about 2,100
             kernel launches per step), so expect roughly 4-20 s per epoch (364 x 2,100 launches
             at 5-25 us each) plus evaluation; benchmarks/gpu_check.sh measures one epoch. The
             first GPU run also compiles CuPy's kernels, once ("compiling CUDA kernels, once" is
             printed; it may take a minute); later runs load them from ~/.cupy/kernel_cache.
  on a CPU   recipes/covid_<tokenizer>.py: 2 x 256, tied, dropout 0.3, up to 8 epochs (early
             stopping, patience 2). Measured at word level on 2 CPU cores shared with other
             jobs: 169 s for the first epoch (1,506 tokens/s), so up to about 25 minutes (less
             on an idle machine; see the README's Quickstart).
  --quick    recipes/covid_quick.py: 2 x 64, 2 epochs of 40 steps: a smoke run (42 s there).
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))   # run from a clone without installing

from scratchlstm import gpu_available, resolve_device                  # noqa: E402
from scratchlstm.config import build_run_config, load_recipe           # noqa: E402
from scratchlstm.data import prepare_data                               # noqa: E402
from scratchlstm.generation import generate                             # noqa: E402
from scratchlstm.training import Trainer, prepare_out_dir               # noqa: E402

RECIPES = REPO / "recipes"


def choose_recipe(device: str, tokenizer: str, quick: bool) -> Path:
    """The recipe for this situation: a GPU affords Zaremba et al.'s "medium" shape."""
    if quick:
        return RECIPES / "covid_quick.py"
    if device == "cuda" and tokenizer == "word":
        return RECIPES / "covid_word_gpu.py"
    return RECIPES / f"covid_{tokenizer}.py"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--tokenizer", default="word", choices=["word", "bpe", "char"])
    parser.add_argument("--vocab-size", type=int, default=None, help="BPE vocabulary size (default: the recipe's)")
    parser.add_argument("--data", default="covid", help="'covid' (shipped) or a folder with train/valid/test.txt")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--quick", action="store_true", help="tiny model, 2 short epochs (a smoke run, "
                        "42 s measured on 2 shared CPU cores)")
    parser.add_argument("--out", help="output folder (default: the recipe's, e.g. runs/covid-word)")
    parser.add_argument("--resume", help="continue from a last.npz checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace a run already in the output folder")
    args = parser.parse_args(argv)
    try:
        return train(args)
    except ValueError as exc:           # a folder holding another run, a mismatched checkpoint, ...
        print(f"error: {exc}", file=sys.stderr)
        return 2


def train(args) -> int:

    device = resolve_device(args.device)
    if device == "cuda":
        print("Using the GPU (CuPy).")
    elif args.device == "auto":
        print("No usable GPU (CuPy or a CUDA device is missing): training on the CPU with a smaller model.")

    if args.resume:
        from scratchlstm.checkpoint import load_checkpoint
        tokenizer = load_checkpoint(args.resume).tokenizer()
        ids, chars = prepare_data(args.data, tokenizer, fit=False)
        overrides = {"epochs": args.epochs} if args.epochs else {}
        out = Path(args.out) if args.out else Path(args.resume).parent
        prepare_out_dir(out, args.overwrite, resuming=Path(args.resume))
        trainer = Trainer.resume(args.resume, ids, out_dir=out, device=device, chars=chars, **overrides)
        print(f"Resuming at epoch {trainer.epoch}, step {trainer.window}.")
    else:
        # 0. the settings: a recipe file, with this script's options on top
        recipe_file = choose_recipe(device, args.tokenizer, args.quick)
        recipe = load_recipe(recipe_file)
        recipe["data"].update(data=args.data, tokenizer=args.tokenizer)
        if args.vocab_size:
            recipe["data"]["vocab_size"] = args.vocab_size
        if args.epochs:
            recipe["train"]["epochs"] = args.epochs
        recipe["out"] = args.out or recipe["out"]
        recipe["device"] = device
        run = build_run_config(recipe)
        print(f"Recipe: {recipe_file.relative_to(REPO)}")
        # 1. text -> token ids: the tokenizer learns its vocabulary from the training split only
        tokenizer = run.data.make_tokenizer()
        ids, chars = prepare_data(run.data.data, tokenizer)
        print(f"{run.data.data}: {ids['train'].size:,} training tokens, vocabulary {tokenizer.vocab_size:,} "
              f"({run.data.tokenizer} level)")
        # 2. the model, built on the host from a seed and moved to the device
        model = run.model.build(tokenizer.vocab_size, seed=run.train.seed, device=device)
        print(model)
        # 3. the trainer: truncated BPTT, Adam, clipping, LR decay on plateau, early stopping
        out = run.out_dir()
        prepare_out_dir(out, args.overwrite)        # never mix this run into another one's files
        trainer = Trainer(model, ids, run.train, tokenizer=tokenizer, out_dir=out, chars=chars,
                          data_config=run.data)

    trainer.fit()                       # ends with one summary line: best epoch, valid/test ppl
    if trainer.result.get("interrupted"):
        print(f"Stopped. Resume with: python examples/train_covid.py --resume {out / 'last.npz'}")
        return 130
    print(f"Checkpoint: {out / 'best.npz'}   learning curves: {out / 'curves.png'}")
    for temperature in (0.5, 0.8, 1.0):
        text = generate(trainer.model, trainer.tokenizer, "the vaccine", max_new_tokens=40,
                        temperature=temperature, seed=1)
        print(f"\n[temperature {temperature}] the vaccine{text}")
    if not gpu_available():
        print("\n(On a machine with a CUDA GPU and `pip install scratchlstm[gpu]`, the same script trains "
              "a 650-unit model.)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
