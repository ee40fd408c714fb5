"""Word-level tokenization: split text into words with regular expressions, one id per word type.

Three ways to split, chosen by ``mode``:

``"basic_english"``
    torchtext's ``basic_english`` normaliser, reproduced rule for rule (see
    :func:`basic_english`): lowercase, put spaces around ``. , ( ) ! ?``, drop ``"``, turn
    ``; :`` and ``<br />`` into spaces, split ``'`` off (``don't`` -> ``don ' t``), split on
    whitespace.
``"cased"``
    Keeps case; punctuation marks become tokens of their own, but words with inner apostrophes or
    hyphens (``don't``, ``well-known``, ``COVID-19``) and numbers with separators (``3.5``,
    ``1,000``) stay whole. See :data:`CASED_PATTERN`.
``"whitespace"``
    ``text.split()``, nothing else: the convention for corpora that are already tokenized,
    WikiText-2 and PTB (this is exactly what PyTorch's ``word_language_model`` does, and what gives
    the published vocabulary sizes, 33,278 and 10,000).

With ``add_eos=True`` every line end becomes the ``<eos>`` token (the WikiText/PTB convention):
``<eos>`` *is* the newline, and decodes back to one.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

import regex

from .base import VocabTokenizer
from .vocab import EOS, UNK, Vocab

MODES = ("basic_english", "cased", "whitespace")

# torchtext.data.utils._basic_english_normalize, as (pattern, replacement) pairs applied in this
# order after lowercasing. The odd-looking replacements are torchtext's own: "'" becomes " '  "
# (two spaces after), and '"' is deleted rather than split off.
BASIC_ENGLISH_RULES: tuple[tuple[str, str], ...] = (
    (r"\'", " '  "),
    (r"\"", ""),
    (r"\.", " . "),
    (r"<br \/>", " "),
    (r",", " , "),
    (r"\(", " ( "),
    (r"\)", " ) "),
    (r"\!", " ! "),
    (r"\?", " ? "),
    (r"\;", " "),
    (r"\:", " "),
    (r"\s+", " "),
)
_BASIC_ENGLISH = tuple((regex.compile(p), r) for p, r in BASIC_ENGLISH_RULES)


def basic_english(line: str) -> list[str]:
    """torchtext's ``basic_english`` tokenizer: lowercase, apply :data:`BASIC_ENGLISH_RULES`
    in order, split on whitespace.

    Examples
    --------
    >>> basic_english('He said "Don\\'t!" (twice).')
    ['he', 'said', 'don', "'", 't', '!', '(', 'twice', ')', '.']
    """
    line = line.lower()
    for pattern, replacement in _BASIC_ENGLISH:
        line = pattern.sub(replacement, line)
    return line.split()


#: The ``cased`` mode's tokens, tried left to right at each position (special tokens such as
#: ``<unk>`` are put in front of these alternatives, so they stay whole).
CASED_PATTERN = r"""
    \p{N}+(?:[.,]\p{N}+)+                               # numbers with separators: 3.5  1,000
  | [\p{L}\p{M}\p{N}]+(?:['’\-][\p{L}\p{M}\p{N}]+)*     # words with inner ' ’ -: don't
  | \S                                                  # any other visible character, alone
"""


def _cased_regex(specials: Iterable[str]) -> regex.Pattern:
    alternatives = [regex.escape(s) for s in sorted(specials, key=len, reverse=True)]
    return regex.compile("|".join(alternatives + [f"(?:{CASED_PATTERN})"]), regex.VERBOSE)


# ---------------------------------------------------------------- readable decoding
# Tokens written without a space before them, and tokens written without a space after them.
_NO_SPACE_BEFORE = frozenset(
    [",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "...", "n't", "'s", "'re", "'ve", "'ll",
     "'d", "'m", "'", "@-@", "@,@", "@.@"])
_NO_SPACE_AFTER = frozenset(["(", "[", "{", "$", "@-@", "@,@", "@.@"])
# WikiText writes in-word hyphens and number separators as " @-@ ", " @,@ ", " @.@ ".
_DETOKENIZE = {"@-@": "-", "@,@": ",", "@.@": "."}
# After a lone "'" (basic_english splits don't -> don ' t) these glue back on: don't, it's.
_CONTRACTION_TAILS = frozenset(["s", "t", "re", "ve", "ll", "d", "m"])


def detokenize(tokens: list[str], eos_token: str | None = EOS) -> str:
    """Join word tokens into readable text.

    No space before closing punctuation (``, . ; : ! ? ) ' n't 's``...), none after opening
    brackets, WikiText's ``@-@`` becomes ``-``, a lone ``'`` followed by ``s t re ve ll d m`` joins
    both neighbours (``don ' t`` -> ``don't``), and ``eos_token`` becomes a newline. The result is
    for reading; it is not guaranteed to re-tokenize to the same tokens.
    """
    out: list[str] = []
    glue_next = True                      # no space at the start of a line
    for k, tok in enumerate(tokens):
        if tok == eos_token:
            out.append("\n")
            glue_next = True
            continue
        if not glue_next and tok not in _NO_SPACE_BEFORE:
            out.append(" ")
        out.append(_DETOKENIZE.get(tok, tok))
        glue_next = tok in _NO_SPACE_AFTER or (
            tok == "'" and k + 1 < len(tokens) and tokens[k + 1] in _CONTRACTION_TAILS)
    return "".join(out)


class WordTokenizer(VocabTokenizer):
    """Words as tokens, with a vocabulary cut by frequency.

    Parameters
    ----------
    mode : {"basic_english", "cased", "whitespace"}, default "basic_english"
        How text is split into words (see the module docstring).
    min_freq : int, default 1
        Words seen fewer times during ``fit`` map to ``<unk>``.
    max_size : int or None
        Largest vocabulary size, special tokens included.
    add_eos : bool, default False
        Every newline becomes ``<eos>`` (and ``<eos>`` decodes to a newline).
    specials : sequence of str, default ()
        Extra special tokens (e.g. ``"<pad>"``, ``"<bos>"``) after ``<unk>`` (and ``<eos>``).

    Notes
    -----
    Ids: ``<unk>`` is 0, ``<eos>`` 1 when ``add_eos``, then the extra specials, then words by
    descending count (ties by the word). A corpus that already contains the literal ``<unk>``
    (WikiText-2, PTB) has it mapped to the unk id, not to a second token.
    """

    kind = "word"

    def __init__(self, mode: str = "basic_english", min_freq: int = 1,
                 max_size: int | None = None, add_eos: bool = False,
                 specials: Iterable[str] = ()):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.min_freq = min_freq
        self.max_size = max_size
        self.add_eos = bool(add_eos)
        self.extra_specials = tuple(specials)
        self.specials = (UNK,) + ((EOS,) if self.add_eos else ()) + self.extra_specials
        self.vocab: Vocab | None = None
        self._split = self._make_splitter()
        # Fail early on a bad min_freq / max_size rather than after reading a corpus.
        Vocab.from_counts({}, min_freq=min_freq, max_size=max_size, specials=self.specials)

    def _make_splitter(self):
        if self.mode == "basic_english":
            return basic_english
        if self.mode == "whitespace":
            return str.split
        return _cased_regex(self.specials).findall

    # ------------------------------------------------------------------ splitting
    def tokenize(self, text: str) -> list[str]:
        """The word strings of ``text`` (newlines are plain whitespace here; no ``<eos>``)."""
        if not isinstance(text, str):
            raise TypeError(f"expected a str, got {type(text).__name__}")
        return self._split(text)

    def _tokens_with_eos(self, text: str) -> list[str]:
        """Words of ``text``, with ``<eos>`` for every newline when ``add_eos``."""
        if not self.add_eos:
            return self.tokenize(text)
        out: list[str] = []
        *lines, tail = text.split("\n")   # every element of `lines` ended with a newline
        for line in lines:
            out.extend(self._split(line))
            out.append(EOS)
        out.extend(self._split(tail))
        return out

    # ------------------------------------------------------------------ the protocol
    def fit(self, texts: str | Iterable[str]) -> "WordTokenizer":
        """Count words in ``texts`` (a str or an iterable of str) and build the vocabulary."""
        counts: Counter = Counter()
        for text in self._as_texts(texts):
            counts.update(self.tokenize(text))
        self.vocab = Vocab.from_counts(counts, min_freq=self.min_freq, max_size=self.max_size,
                                       specials=self.specials)
        return self

    @property
    def eos_id(self) -> int | None:
        self._check_fitted()
        return self.vocab.stoi[EOS] if self.add_eos else None

    def encode(self, text: str) -> list[int]:
        """Ids of the words of ``text``; with ``add_eos`` each ``"\\n"`` gives ``<eos>``.

        A prompt without a trailing newline therefore gets no ``<eos>`` at its end, which is what
        generation wants. Use :meth:`encode_corpus` for training data.
        """
        self._check_fitted()
        return self.vocab.lookup_ids(self._tokens_with_eos(text))

    def encode_corpus(self, text: str):
        """Encode a corpus as a ``(N,) int64`` array; with ``add_eos`` one ``<eos>`` per line.

        Like PyTorch's ``word_language_model``, the last line gets its ``<eos>`` even when the
        text does not end with a newline.
        """
        if self.add_eos and text and not text.endswith("\n"):
            text += "\n"
        return super().encode_corpus(text)

    def decode(self, ids) -> str:
        """Readable text for ``ids`` (see :func:`detokenize`); ``<unk>`` stays ``'<unk>'``."""
        ids = self._ids_to_list(ids)
        return detokenize(self.vocab.lookup_tokens(ids), EOS if self.add_eos else None)

    # ------------------------------------------------------------------ persistence
    def _config(self) -> dict:
        return {"mode": self.mode, "min_freq": self.min_freq, "max_size": self.max_size,
                "add_eos": self.add_eos, "specials": list(self.extra_specials)}

    def _state(self) -> dict:
        return {"vocab": self.vocab.to_dict()}

    def _set_state(self, state: Mapping) -> None:
        vocab = Vocab.from_dict(state["vocab"])
        if vocab.specials != self.specials:
            raise ValueError(f"saved vocabulary has specials {vocab.specials}, "
                             f"the configuration implies {self.specials}")
        self.vocab = vocab
