"""Train an LSTM language model on the COVID-19 corpus that ships with scratchlstm.

    python examples/train_covid.py                 # GPU if CuPy and a GPU are present, else CPU
    python examples/train_covid.py --quick         # a 2-minute smoke run on a laptop CPU
    python examples/train_covid.py --tokenizer bpe --epochs 20
    python examples/train_covid.py --data ../shared/data/covid   # any folder with train/valid/test
    python examples/train_covid.py --resume runs/covid-word/last.npz

It prints perplexity every epoch, keeps the best weights in runs/covid-<tokenizer>/best.npz,
draws the learning curves into curves.png next to it, and ends with samples at a few temperatures.
Press Ctrl-C at any time: a resumable checkpoint is saved first.

What it trains (word level: 6,224 words, 254,789 training tokens, 364 steps of 20 x 35 tokens
per epoch):

  on a GPU   Zaremba et al.'s "medium" shape: 2 x 650 LSTM, tied weights (10.8M parameters),
             dropout 0.5, Adam, up to 30 epochs with early stopping (patience 4). Time: not yet
             measured on a GPU. The step is launch-bound (about 2,100 kernel launches per step),
             so expect roughly 4-20 s per epoch (364 x 2,100 launches at 5-25 us each) plus
             evaluation; benchmarks/gpu_check.sh measures one epoch. The first GPU run also
             compiles CuPy's kernels, once ("compiling CUDA kernels, once" is printed; it may
             take a minute); later runs load them from ~/.cupy/kernel_cache.
  on a CPU   2 x 256, tied (2.7M parameters), dropout 0.3, up to 8 epochs (patience 3).
  --quick    2 x 64, 2 epochs of 40 steps: a smoke run.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # run from a clone without installing

from scratchlstm import LSTMLanguageModel, gpu_available, resolve_device   # noqa: E402
from scratchlstm.data import make_tokenizer, prepare_data                    # noqa: E402
from scratchlstm.generation import generate                                   # noqa: E402
from scratchlstm.training import Trainer                                      # noqa: E402

# Model and training settings per situation: a GPU affords Zaremba et al.'s "medium" shape.
GPU_SETTINGS = dict(model=dict(embed_dim=650, hidden_dim=650, num_layers=2, dropout=0.5, tie_weights=True),
                    train=dict(epochs=30, batch_size=20, bptt=35, lr=2e-3, clip=0.25, patience=4))
CPU_SETTINGS = dict(model=dict(embed_dim=256, hidden_dim=256, num_layers=2, dropout=0.3, tie_weights=True),
                    train=dict(epochs=8, batch_size=20, bptt=35, lr=3e-3, clip=0.25, patience=3))
QUICK_SETTINGS = dict(model=dict(embed_dim=64, hidden_dim=64, num_layers=2, dropout=0.1, tie_weights=True),
                      train=dict(epochs=2, batch_size=20, bptt=35, lr=5e-3, clip=0.25, max_steps_per_epoch=40,
                                 eval_batch_size=20))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--tokenizer", default="word", choices=["word", "bpe", "char"])
    parser.add_argument("--vocab-size", type=int, default=4000, help="BPE vocabulary size")
    parser.add_argument("--data", default="covid", help="'covid' (shipped) or a folder with train/valid/test.txt")
    parser.add_argument("--epochs", type=int, help="override the number of epochs")
    parser.add_argument("--quick", action="store_true", help="tiny model, 2 short epochs (under 2 minutes)")
    parser.add_argument("--out", help="output folder (default runs/covid-<tokenizer>)")
    parser.add_argument("--resume", help="continue from a last.npz checkpoint")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    if device == "cuda":
        print("Using the GPU (CuPy).")
        settings = GPU_SETTINGS
    else:
        if args.device == "auto":
            print("No usable GPU (CuPy or a CUDA device is missing): training on the CPU with a smaller model.")
        settings = CPU_SETTINGS
    if args.quick:
        settings = QUICK_SETTINGS
    out = Path(args.out or f"runs/covid-{args.tokenizer}{'-quick' if args.quick else ''}")

    if args.resume:
        from scratchlstm.checkpoint import load_checkpoint
        tokenizer = load_checkpoint(args.resume).tokenizer()
        ids, chars = prepare_data(args.data, tokenizer, fit=False)
        overrides = {"epochs": args.epochs} if args.epochs else {}
        trainer = Trainer.resume(args.resume, ids, out_dir=out, device=device, chars=chars, **overrides)
        print(f"Resuming at epoch {trainer.epoch}, step {trainer.window}.")
    else:
        # 1. text -> token ids: the tokenizer learns its vocabulary from the training split only
        tokenizer = make_tokenizer(args.tokenizer, vocab_size=args.vocab_size)
        ids, chars = prepare_data(args.data, tokenizer)
        print(f"{args.data}: {ids['train'].size:,} training tokens, vocabulary {tokenizer.vocab_size:,} "
              f"({args.tokenizer} level)")
        # 2. the model, built on the host from a seed and moved to the device
        model = LSTMLanguageModel(tokenizer.vocab_size, seed=0, device=device, **settings["model"])
        print(model)
        # 3. the trainer: truncated BPTT, Adam, clipping, LR decay on plateau, early stopping
        train = dict(settings["train"], **({"epochs": args.epochs} if args.epochs else {}))
        trainer = Trainer(model, ids, train, tokenizer=tokenizer, out_dir=out, chars=chars)

    trainer.fit()
    if trainer.result.get("interrupted"):
        print(f"Stopped. Resume with: python examples/train_covid.py --resume {out / 'last.npz'}")
        return 130
    r = trainer.result
    print(f"Best epoch {r['best_epoch']}: valid perplexity {r['valid_ppl']:.2f}, test perplexity "
          f"{r['test_ppl']:.2f} ({r.get('test_bpc', float('nan')):.3f} bits per character)")
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
