"""Generate text from a trained checkpoint, streaming tokens as they come.

    python examples/generate.py runs/covid-word/best.npz --prompt "the vaccine" --temperature 0.8
    python examples/generate.py runs/covid-word/best.npz --prompt "masks" --top-p 0.9 --samples 3
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scratchlstm.checkpoint import load_model     # noqa: E402
from scratchlstm.generation import stream          # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint")
    parser.add_argument("--prompt", default="")
    parser.add_argument("--max-new-tokens", type=int, default=80)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--samples", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args(argv)

    model, tokenizer = load_model(args.checkpoint, args.device)
    print(f"{model}, {tokenizer.kind} tokenizer\n")
    for k in range(args.samples):
        sys.stdout.write(f"--- sample {k + 1} ---\n{args.prompt}")
        for token in stream(model, tokenizer, args.prompt, args.max_new_tokens, args.temperature,
                            args.top_k, args.top_p, seed=args.seed + k):
            sys.stdout.write(token.text)
            sys.stdout.flush()
        sys.stdout.write("\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
