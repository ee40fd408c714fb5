"""Text to numbers: vocabularies, tokenizers (char, word, byte-level BPE, unigram), corpora and
batching.

The whole pipeline, the same for every tokenizer::

    from scratchlstm.text import load_corpus, BPETokenizer, batchify, bptt_windows

    splits = load_corpus("wikitext2")                     # {"train", "valid", "test"}: str
    tok = BPETokenizer(vocab_size=8000).fit(splits["train"])
    ids = tok.encode_corpus(splits["train"])              # (N,) int64
    data = batchify(ids, batch_size=20)                   # (T, B), time-major
    for inputs, targets in bptt_windows(data, bptt=35):   # (t, B) each, targets one step ahead
        ...

Modules: :mod:`.vocab`, :mod:`.base` (the protocol), :mod:`.char`, :mod:`.word`, :mod:`.bpe` and
:mod:`.unigram` (over :mod:`.bytelevel` and :mod:`.chunks`), :mod:`.corpus`, :mod:`.batching`.
"""
from .base import Tokenizer, load_tokenizer, tokenizer_from_dict
from .batching import BPTTWindows, batchify, bptt_windows, num_windows, validate_ids
from .bpe import GPT2_PATTERN, BPETokenizer, merge_pair, pretokenize
from .char import UNK_PLACEHOLDER, CharTokenizer
from .unigram import UnigramTokenizer
from .corpus import (CORPORA, ENV_DATA, CorpusSpec, download_file, load_corpus, load_splits,
                     load_text, resolve_data_dir, sha256_of, split_text)
from .vocab import BOS, EOS, PAD, UNK, Vocab
from .word import BASIC_ENGLISH_RULES, CASED_PATTERN, WordTokenizer, basic_english, detokenize

__all__ = [
    "Tokenizer", "load_tokenizer", "tokenizer_from_dict",
    "BPTTWindows", "batchify", "bptt_windows", "num_windows", "validate_ids",
    "GPT2_PATTERN", "BPETokenizer", "merge_pair", "pretokenize",
    "UNK_PLACEHOLDER", "CharTokenizer", "UnigramTokenizer",
    "CORPORA", "ENV_DATA", "CorpusSpec", "download_file", "load_corpus", "load_splits",
    "load_text", "resolve_data_dir", "sha256_of", "split_text",
    "BOS", "EOS", "PAD", "UNK", "Vocab",
    "BASIC_ENGLISH_RULES", "CASED_PATTERN", "WordTokenizer", "basic_english", "detokenize",
]
