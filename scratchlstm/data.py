"""From a corpus name or folder to token-id streams: the one pipeline every tokenizer goes through.

>>> tokenizer = make_tokenizer("bpe", vocab_size=2000)
>>> ids, chars = prepare_data("covid", tokenizer)      # fits the tokenizer on the train split
>>> ids["train"].shape, chars["valid"]
"""
from __future__ import annotations

import os

from .backend import np
from .config import TOKENIZER_KINDS, DataConfig
from .text.base import Tokenizer
from .text import BPETokenizer, CharTokenizer, UnigramTokenizer, WordTokenizer, load_corpus


def make_tokenizer(kind: str, vocab_size: int | None = None, min_freq: int | None = None,
                   word_mode: str | None = None, mode: str | None = None) -> Tokenizer:
    """Build an unfitted tokenizer of ``kind`` with sensible defaults.

    Parameters
    ----------
    kind : "char", "word", "bpe" or "unigram"
    vocab_size : target vocabulary for BPE and unigram (default 2000)
    min_freq : minimum count for a word to get its own id (default 3; rarer words become <unk>)
    word_mode : word tokenizer mode, "basic_english" (default: lower-case, torchtext's rules),
        "cased" or "whitespace" (the name of ``DataConfig.word_mode`` and ``--word-mode``;
        ``mode`` is the same, under the name the word tokenizer itself uses)

    The defaults are those of :class:`scratchlstm.config.DataConfig`.
    """
    if word_mode is not None and mode is not None and word_mode != mode:
        raise ValueError(f"word_mode={word_mode!r} and mode={mode!r} disagree: give one of them")
    defaults = DataConfig()
    if kind == "char":
        return CharTokenizer()
    if kind == "word":
        return WordTokenizer(mode=word_mode or mode or defaults.word_mode,
                             min_freq=defaults.min_freq if min_freq is None else min_freq, add_eos=True)
    if kind == "bpe":
        return BPETokenizer(vocab_size=vocab_size or defaults.vocab_size)
    if kind == "unigram":
        return UnigramTokenizer(vocab_size=vocab_size or defaults.vocab_size)
    raise ValueError(f"unknown tokenizer {kind!r}; choose one of {TOKENIZER_KINDS}")


def prepare_data(source: str | os.PathLike, tokenizer: Tokenizer, data_dir: str | os.PathLike | None = None,
                 download: bool = False, fit: bool = True,
                 max_chars: int | None = None) -> tuple[dict[str, "np.ndarray"], dict[str, int]]:
    """Load a corpus, fit the tokenizer on its training split, and encode every split.

    Parameters
    ----------
    source : a named corpus ("covid", "wikitext2", "ptb", "tinyshakespeare") or a path to a text
        file or a folder (with train/valid/test files, or split 80/10/10)
    tokenizer : any scratchlstm tokenizer
    fit : False to reuse an already fitted tokenizer (evaluation, resuming)
    max_chars : keep only the first ``max_chars`` characters of every split (quick smoke runs)

    Returns
    -------
    ids : dict split -> (N,) int64 array of token ids
    chars : dict split -> number of characters in the raw text (for bits per character)
    """
    splits = load_corpus(source, data_dir=data_dir, download=download)
    if max_chars is not None:
        splits = {name: text[:max_chars] for name, text in splits.items()}
    if fit:
        tokenizer.fit(splits["train"])
    ids = {name: tokenizer.encode_corpus(text) for name, text in splits.items() if text}
    chars = {name: len(text) for name, text in splits.items() if text}
    return ids, chars
