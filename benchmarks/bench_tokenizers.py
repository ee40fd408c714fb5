"""Speed of scratchlstm's byte-level BPE: training, encoding (cold and warm cache) and decoding.

Trains a BPE vocabulary (8,000 by default) on WikiText-2's training text (10.8 MB) and measures

* train s        : wall time of ``fit`` (pre-tokenization + merges), one Python thread;
* encode MB/s    : UTF-8 megabytes of the training text encoded per second, with an empty chunk
                   cache (cold: a tokenizer freshly rebuilt from its saved dict) and with the
                   cache filled by a previous pass (warm); best of ``--repeat`` runs;
* decode MB/s    : the same megabytes produced by ``decode`` per second;
* tokens         : length of the encoded training text (how well the vocabulary compresses).

When HuggingFace ``tokenizers`` is installed (optional; ``pip install tokenizers``, never a
dependency of scratchlstm) the same figures are measured for its ByteLevel BPE (Rust), with the
same vocabulary size and special token, on ``--hf-threads`` threads (default 1, to compare
like with like), encoding with ``encode_batch`` over the lines of the text.

    python benchmarks/bench_tokenizers.py
    python benchmarks/bench_tokenizers.py --data /path/to/data --vocab-size 8000
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=None,
                   help="data folder holding wikitext-2/ (default: $SCRATCHLSTM_DATA, else "
                        "../shared/data beside the repository)")
    p.add_argument("--vocab-size", type=int, default=8000)
    p.add_argument("--hf-threads", type=int, default=1,
                   help="threads for HuggingFace tokenizers (default 1)")
    p.add_argument("--no-hf", action="store_true", help="skip HuggingFace tokenizers")
    p.add_argument("--repeat", type=int, default=3,
                   help="timed repetitions of encode/decode; the best is reported (default 3)")
    return p.parse_args(argv)


def find_train_file(data: str | None) -> Path:
    candidates = [data] if data else []
    if os.environ.get("SCRATCHLSTM_DATA"):
        candidates.append(os.environ["SCRATCHLSTM_DATA"])
    candidates.append(str(REPO.parent / "shared" / "data"))
    for root in candidates:
        path = Path(root).expanduser() / "wikitext-2" / "train.txt"
        if path.is_file():
            return path
    sys.exit(f"wikitext-2/train.txt not found under {candidates}; pass --data DIR")


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def best_of(repeat: int, fn, *args):
    """The result and the fastest of ``repeat`` timings (the machine is shared: take the best)."""
    runs = [timed(fn, *args) for _ in range(repeat)]
    return runs[0][0], min(t for _, t in runs)


def bench_ours(text: str, vocab_size: int, repeat: int) -> dict:
    from scratchlstm.text import BPETokenizer
    megabytes = len(text.encode("utf-8")) / 1e6
    tok, train_s = timed(BPETokenizer(vocab_size=vocab_size).fit, text)
    # A tokenizer rebuilt from its dict starts with an empty cache: each call below is cold.
    ids, cold = best_of(repeat, lambda: BPETokenizer.from_dict(tok.to_dict()).encode(text))
    tok.encode(text)                                   # fill tok's cache once, untimed
    _, warm = best_of(repeat, tok.encode, text)
    decoded, dec = best_of(repeat, tok.decode, ids)
    assert decoded == text, "round trip failed"
    return {"name": "scratchlstm BPETokenizer (Python)", "train_s": train_s,
            "cold": megabytes / cold, "warm": megabytes / warm, "decode": megabytes / dec,
            "tokens": len(ids), "vocab": tok.vocab_size}


def bench_hf(text: str, vocab_size: int, threads: int, repeat: int) -> dict | None:
    # rayon reads its thread count when the library first uses it: set it before the import.
    os.environ["RAYON_NUM_THREADS"] = os.environ["RAYON_RS_NUM_CPUS"] = str(threads)
    os.environ["TOKENIZERS_PARALLELISM"] = "true" if threads > 1 else "false"
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:
        return None
    megabytes = len(text.encode("utf-8")) / 1e6
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<eos>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    _, train_s = timed(tok.train_from_iterator, [text], trainer)
    # encode_batch over lines is how HF tokenizers is meant to be used (one 10 MB string through
    # tok.encode runs at about 1 MB/s). A Tokenizer rebuilt from its JSON has an empty cache.
    lines = text.splitlines(keepends=True)
    fresh = lambda: Tokenizer.from_str(tok.to_str())  # noqa: E731
    _, cold = best_of(repeat, lambda: fresh().encode_batch(lines))
    tok.encode_batch(lines)                            # fill the cache once, untimed
    encs, warm = best_of(repeat, tok.encode_batch, lines)
    ids = [i for e in encs for i in e.ids]
    decoded, dec = best_of(repeat, tok.decode, ids)
    if decoded != text:
        print("note: HuggingFace round trip differs from the input", file=sys.stderr)
    return {"name": f"HF tokenizers ByteLevel BPE (Rust, {threads} thread"
                    f"{'s' if threads > 1 else ''})", "train_s": train_s,
            "cold": megabytes / cold, "warm": megabytes / warm, "decode": megabytes / dec,
            "tokens": len(ids), "vocab": tok.get_vocab_size()}


def main(argv=None) -> None:
    args = parse_args(argv)
    from scratchlstm.text import load_text
    path = find_train_file(args.data)
    text = load_text(path)
    print(f"corpus: {path} ({len(text.encode('utf-8')) / 1e6:.1f} MB), "
          f"vocab_size={args.vocab_size}, python {sys.version.split()[0]}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs\n")
    rows = [bench_ours(text, args.vocab_size, args.repeat)]
    if not args.no_hf:
        hf = bench_hf(text, args.vocab_size, args.hf_threads, args.repeat)
        if hf is None:
            print("HuggingFace tokenizers not installed: skipped", file=sys.stderr)
        else:
            rows.append(hf)
    print("| tokenizer | vocab | train s | encode MB/s (cold) | encode MB/s (warm) "
          "| decode MB/s | tokens |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['vocab']:,} | {r['train_s']:.1f} | {r['cold']:.1f} "
              f"| {r['warm']:.1f} | {r['decode']:.1f} | {r['tokens']:,} |")


if __name__ == "__main__":
    main()
