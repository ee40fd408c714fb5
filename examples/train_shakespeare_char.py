"""The classic: a character-level LSTM on Tiny Shakespeare (Karpathy's char-rnn data set).

    SCRATCHLSTM_DATA=/path/to/data python examples/train_shakespeare_char.py [--quick] [--device auto]

The data folder must contain tinyshakespeare/input.txt (1.1 MB); the split is nanoGPT's:
first 90% train, last 10% validation. Validation loss is reported in nats per character, the
figure nanoGPT and char-rnn report (a small transformer reaches 1.47).
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchlstm import LSTMLanguageModel, resolve_device    # noqa: E402
from scratchlstm.data import make_tokenizer, prepare_data     # noqa: E402
from scratchlstm.generation import generate                    # noqa: E402
from scratchlstm.training import Trainer                       # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--data-dir", help="folder with tinyshakespeare/ (default $SCRATCHLSTM_DATA)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="a tiny model for a one-minute run")
    parser.add_argument("--out", default="runs/shakespeare-char")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    tokenizer = make_tokenizer("char")
    ids, chars = prepare_data("tinyshakespeare", tokenizer, data_dir=args.data_dir)
    size = 64 if args.quick else 512
    model = LSTMLanguageModel(tokenizer.vocab_size, embed_dim=32 if args.quick else 128, hidden_dim=size,
                              num_layers=2, dropout=0.0 if args.quick else 0.2, seed=0, device=device)
    print(f"{model}\n{ids['train'].size:,} training characters, device {device}")
    config = dict(epochs=1 if args.quick else args.epochs, batch_size=64, bptt=100, optimizer="adam",
                  lr=2e-3, clip=1.0, schedule="plateau", plateau_factor=0.5, eval_batch_size=64,
                  max_steps_per_epoch=40 if args.quick else None)
    trainer = Trainer(model, ids, config, tokenizer=tokenizer, out_dir=args.out, chars=chars)
    trainer.fit()
    if trainer.result.get("interrupted"):
        return 130
    print(f"best validation loss {trainer.result['valid_loss']:.4f} nats/char")
    print(generate(trainer.model, tokenizer, "ROMEO:\n", max_new_tokens=300, temperature=0.8, seed=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
