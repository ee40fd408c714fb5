"""The classic: a character-level LSTM on Tiny Shakespeare (Karpathy's char-rnn data set).

    SCRATCHLSTM_DATA=/path/to/data python examples/train_shakespeare_char.py [--quick] [--device auto]

The data folder must contain tinyshakespeare/input.txt (1.1 MB; `scratchlstm train --data
tinyshakespeare --download` fetches it); the split is nanoGPT's: first 90% train, last 10%
validation. Validation loss is reported in nats per character, the figure nanoGPT and char-rnn
report (a small transformer reaches 1.47).

The settings are those of recipes/shakespeare_char.py (2 x 512 LSTM, embedding 128, dropout 0.2,
Adam 2e-3, clip 1, batch 64, BPTT 100, 8 epochs, constant learning rate), the same file that
`scratchlstm train --config recipes/shakespeare_char.py` reads: it reached 1.453 nats/char on 2 CPU
cores (benchmarks/RESULTS.md). --quick shrinks the model to 2 x 64 and runs 40 steps of one epoch.
"""
import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scratchlstm import resolve_device                          # noqa: E402
from scratchlstm.config import build_run_config, load_recipe    # noqa: E402
from scratchlstm.data import prepare_data                        # noqa: E402
from scratchlstm.generation import generate                      # noqa: E402
from scratchlstm.training import Trainer, prepare_out_dir        # noqa: E402

RECIPE = REPO / "recipes" / "shakespeare_char.py"
#: --quick: the recipe with a tiny model and one short epoch (a smoke run of about a minute)
QUICK = dict(model=dict(embed_dim=32, hidden_dim=64, dropout=0.0),
             train=dict(epochs=1, max_steps_per_epoch=40))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--data-dir", help="folder with tinyshakespeare/ (default $SCRATCHLSTM_DATA)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's 8 epochs")
    parser.add_argument("--quick", action="store_true", help="a tiny model for a one-minute run")
    parser.add_argument("--out", default=None, help="output folder (default: the recipe's)")
    parser.add_argument("--overwrite", action="store_true", help="replace a run already in the output folder")
    args = parser.parse_args(argv)

    recipe = load_recipe(RECIPE)
    if args.quick:
        for part, values in QUICK.items():
            recipe[part].update(values)
    if args.epochs:
        recipe["train"]["epochs"] = args.epochs
    if args.data_dir:
        recipe["data"]["data_dir"] = args.data_dir
    recipe["out"] = args.out or recipe["out"]
    run = build_run_config(recipe)
    try:
        prepare_out_dir(run.out_dir(), args.overwrite)      # never mix this run into another one's files
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    device = resolve_device(args.device)
    tokenizer = run.data.make_tokenizer()
    ids, chars = prepare_data(run.data.data, tokenizer, data_dir=run.data.data_dir)
    model = run.model.build(tokenizer.vocab_size, seed=run.train.seed, device=device)
    print(f"{model}\n{ids['train'].size:,} training characters, device {device}, recipe {RECIPE.name}")
    trainer = Trainer(model, ids, run.train, tokenizer=tokenizer, out_dir=run.out_dir(), chars=chars,
                      data_config=run.data)
    trainer.fit()
    if trainer.result.get("interrupted"):
        return 130
    print(f"best validation loss {trainer.result['valid_loss']:.4f} nats/char")
    print(generate(trainer.model, tokenizer, "ROMEO:\n", max_new_tokens=300, temperature=0.8, seed=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
