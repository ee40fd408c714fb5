"""Our unigram tokenizer against SentencePiece's on the same corpus and vocabulary size.

Both train a unigram language model with byte fallback on the same training text (SentencePiece
with ``character_coverage=1.0`` and whitespace splitting, the closest settings to ours), then
encode the validation text. Reported: tokens per character, how many pieces the two vocabularies
share (ours' leading spaces written as SentencePiece's "▁"), training seconds and encoding MB/s.
SentencePiece is an optional reference: install it with ``pip install sentencepiece``.

    python benchmarks/bench_unigram.py                       # COVID corpus, 2000 and 8000 tokens
    python benchmarks/bench_unigram.py --data wikitext2 --vocab 8000
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="covid")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--vocab", type=int, nargs="+", default=[2000, 8000])
    args = p.parse_args(argv)
    from scratchlstm.text import UnigramTokenizer, load_corpus

    splits = load_corpus(args.data, data_dir=args.data_dir)
    train, valid = splits["train"], splits["valid"]
    try:
        import sentencepiece as spm
    except ImportError:
        spm = None
        print("sentencepiece is not installed: reporting scratchlstm alone")
    rows = []
    for V in args.vocab:
        start = time.perf_counter()
        ours = UnigramTokenizer(vocab_size=V).fit(train)
        ours_train = time.perf_counter() - start
        ours._cache.clear()
        start = time.perf_counter()
        ids = ours.encode(valid)
        ours_encode = time.perf_counter() - start
        assert ours.decode(ids) == valid
        row = {"V": V, "ours_tpc": len(ids) / len(valid), "ours_train": ours_train,
               "ours_mbs": len(valid.encode()) / ours_encode / 1e6}
        if spm is not None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "train.txt"
                path.write_text(train, encoding="utf-8")
                start = time.perf_counter()
                spm.SentencePieceTrainer.train(
                    input=str(path), model_prefix=str(Path(tmp) / "sp"), vocab_size=V,
                    model_type="unigram", character_coverage=1.0, byte_fallback=True,
                    max_sentence_length=1 << 20, num_threads=1, minloglevel=2,
                    remove_extra_whitespaces=False, normalization_rule_name="identity")
                row["sp_train"] = time.perf_counter() - start
                sp = spm.SentencePieceProcessor(model_file=str(Path(tmp) / "sp.model"))
            start = time.perf_counter()
            sp_ids = sp.encode(valid.split("\n"))
            row["sp_mbs"] = len(valid.encode()) / (time.perf_counter() - start) / 1e6
            row["sp_tpc"] = (sum(len(x) for x in sp_ids) + valid.count("\n")) / len(valid)
            sp_pieces = {sp.id_to_piece(i) for i in range(sp.get_piece_size())}
            ours_pieces = {piece.replace(" ", "\u2581") for piece in ours.pieces}
            row["overlap"] = len(sp_pieces & ours_pieces) / len(ours_pieces)
        rows.append(row)
        print(row, flush=True)
    print()
    print(f"corpus {args.data}: {len(train):,} training characters, {len(valid):,} validation characters")
    print("| vocabulary | tokens/char ours | tokens/char SentencePiece | shared pieces | "
          "train s ours | train s SentencePiece | encode MB/s ours | encode MB/s SentencePiece |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sp_cols = (f"{r['sp_tpc']:.4f} | {r['overlap']:.0%} | {r['ours_train']:.1f} | {r['sp_train']:.1f} | "
                   f"{r['ours_mbs']:.2f} | {r['sp_mbs']:.2f}") if "sp_tpc" in r else \
            f"- | - | {r['ours_train']:.1f} | - | {r['ours_mbs']:.2f} | -"
        print(f"| {r['V']} | {r['ours_tpc']:.4f} | {sp_cols} |")


if __name__ == "__main__":
    main()
