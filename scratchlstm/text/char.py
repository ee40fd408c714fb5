"""Character-level tokenization: one id per Unicode code point.

The smallest vocabulary (65 symbols for Tiny Shakespeare) and the longest sequences. Every text made
of characters seen during ``fit`` round-trips exactly: ``decode(encode(s)) == s``.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from .base import VocabTokenizer
from .vocab import UNK, Vocab

#: What ``decode`` prints for the ``<unk>`` id: U+FFFD REPLACEMENT CHARACTER, the character
#: Unicode reserves for "something was here that could not be represented". It is one character
#: wide, like every other token of this tokenizer, so decoded text keeps its length.
UNK_PLACEHOLDER = "\ufffd"


class CharTokenizer(VocabTokenizer):
    """One token per character (Unicode code point).

    Vocabulary: id 0 is ``<unk>``, then the characters of the fitted text in code-point order.
    Characters never seen during ``fit`` encode to ``<unk>`` and decode as ``'\\ufffd'`` (see
    :data:`UNK_PLACEHOLDER`). There is no ``<eos>``: at character level the newline character
    already marks line ends (``eos_id`` is ``None``).

    Examples
    --------
    >>> tok = CharTokenizer().fit("hello")
    >>> tok.encode("hole")          # 0 = <unk>, then e h l o
    [2, 4, 3, 1]
    >>> tok.decode(tok.encode("hex")) == "he\\ufffd"
    True
    """

    kind = "char"

    def __init__(self):
        self.vocab: Vocab | None = None

    def fit(self, texts: str | Iterable[str]) -> "CharTokenizer":
        """Collect the characters of ``texts`` (a str or an iterable of str); returns ``self``.

        Fitting again starts from scratch.
        """
        chars: Counter = Counter()
        for text in self._as_texts(texts):
            chars.update(text)
        # Code-point order (not frequency order) keeps ids readable: 'a' < 'b' < ... as in ASCII.
        self.vocab = Vocab(sorted(chars), specials=(UNK,), unk_token=UNK)
        return self

    def encode(self, text: str) -> list[int]:
        """Ids of the characters of ``text``; unseen characters give :attr:`unk_id`."""
        self._check_fitted()
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, got {type(text).__name__}")
        return self.vocab.lookup_ids(text)     # iterating a str yields its characters

    def decode(self, ids) -> str:
        """The text of ``ids`` (list, tuple or 1-D integer array); ``<unk>`` becomes '\\ufffd'.

        Raises
        ------
        ValueError
            For an id outside ``0 .. vocab_size-1``.
        """
        ids = self._ids_to_list(ids)
        itos, unk = self.vocab.itos, self.vocab.unk_id
        return "".join(UNK_PLACEHOLDER if i == unk else itos[i] for i in ids)

    @property
    def chars(self) -> list[str]:
        """The alphabet learned by ``fit`` (without ``<unk>``)."""
        self._check_fitted()
        return self.vocab.itos[len(self.vocab.specials):]

    # persistence
    def _config(self) -> dict:
        return {}

    def _state(self) -> dict:
        return {"vocab": self.vocab.to_dict()}

    def _set_state(self, state: Mapping) -> None:
        self.vocab = Vocab.from_dict(state["vocab"])
