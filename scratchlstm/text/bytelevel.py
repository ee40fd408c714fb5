"""What the byte-level subword tokenizers share: bytes as the fallback alphabet, special tokens,
pre-tokenized chunks, and decoding through a table of bytes.

Id layout: ``0..255`` are the bytes (id ``b`` is byte ``b``), then the special tokens, then the
learned tokens (BPE's merges, the unigram model's pieces). Every string can be encoded, since a
character the learned tokens do not cover falls back to its UTF-8 bytes: nothing is unknown.
Subclasses learn the tokens (``fit``), install the byte table (``_install_table``) and split one
pre-tokenized chunk into ids (``_encode_chunk``).
"""
from __future__ import annotations

from collections.abc import Iterable

import regex

from .base import Tokenizer
from .chunks import PRETOKENIZE
from .vocab import EOS


class ByteLevelTokenizer(Tokenizer):
    """Special tokens, chunking, the encoding cache and byte-table decoding.

    Parameters
    ----------
    vocab_size : int, the target size: 256 bytes + special tokens + learned tokens
    special_tokens : sequence of str, tokens with ids of their own: where they occur literally in
        text they are encoded as that single id, and learned tokens never cross them
    add_eos : bool, treat every newline as ``<eos>`` (which must be among ``special_tokens``):
        ``"\\n"`` is encoded as the eos id and the eos id decodes to ``"\\n"``
    cache_size : int, how many chunks the encoding cache remembers (cleared when full)
    """

    def __init__(self, vocab_size: int = 1000, special_tokens: Iterable[str] = (EOS,),
                 add_eos: bool = False, cache_size: int = 200_000):
        special_tokens = tuple(special_tokens)
        if len(set(special_tokens)) != len(special_tokens) or not all(
                isinstance(s, str) and s for s in special_tokens):
            raise ValueError("special_tokens must be distinct non-empty strings, "
                             f"got {special_tokens}")
        if isinstance(vocab_size, bool) or int(vocab_size) != vocab_size \
                or vocab_size < 256 + len(special_tokens):
            raise ValueError(f"vocab_size must be an integer >= 256 + {len(special_tokens)} "
                             f"special tokens = {256 + len(special_tokens)}, got {vocab_size!r}")
        if add_eos and EOS not in special_tokens:
            raise ValueError(f"add_eos=True needs {EOS!r} in special_tokens, got {special_tokens}")
        self.target_vocab_size = int(vocab_size)
        self.special_tokens = special_tokens
        self.add_eos = bool(add_eos)
        self.cache_size = int(cache_size)
        self.special_ids = {tok: 256 + k for k, tok in enumerate(special_tokens)}
        self._token_bytes: list[bytes] | None = None
        self._cache: dict[str, list[int]] = {}
        self._splitter = self._make_splitter()

    # ------------------------------------------------------------------ special tokens
    def _make_splitter(self):
        """A regex whose matches bypass the learned tokens: special tokens (and "\\n")."""
        pieces = sorted(self.special_tokens, key=len, reverse=True)   # longest first
        alternatives = [regex.escape(s) for s in pieces] + (["\n"] if self.add_eos else [])
        return regex.compile("|".join(alternatives)) if alternatives else None

    def _segments(self, text: str):
        """Yield ``(piece, special_id)``: ordinary text with ``None``, or a special token's id."""
        if self._splitter is None:
            if text:
                yield text, None
            return
        start = 0
        for m in self._splitter.finditer(text):
            if m.start() > start:
                yield text[start:m.start()], None
            s = m.group()
            yield s, (self.special_ids[EOS] if s == "\n" else self.special_ids[s])
            start = m.end()
        if start < len(text):
            yield text[start:], None

    def _chunk_counts(self, texts) -> dict:
        """How often each pre-tokenized chunk occurs in ``texts`` (outside special tokens)."""
        from collections import Counter  # noqa: PLC0415

        counts: Counter = Counter()
        for text in self._as_texts(texts):
            for piece, special in self._segments(text):
                if special is None:
                    counts.update(PRETOKENIZE.findall(piece))
        return counts

    # ------------------------------------------------------------------ the byte table
    def _base_table(self) -> list[bytes]:
        """Bytes 0..255, then the special tokens (``<eos>`` as the newline it replaces when
        ``add_eos``)."""
        table = [bytes([b]) for b in range(256)]
        for tok in self.special_tokens:
            table.append(b"\n" if (self.add_eos and tok == EOS) else tok.encode("utf-8"))
        return table

    def _install_table(self, table: list[bytes]) -> None:
        """Make ``table`` (what each id spells) the vocabulary; the encoding cache starts empty."""
        self._token_bytes = table
        self._cache = {}

    def _encode_chunk(self, chunk: str) -> list[int]:  # pragma: no cover - abstract
        raise NotImplementedError

    # ------------------------------------------------------------------ the protocol
    @property
    def is_fitted(self) -> bool:
        return self._token_bytes is not None

    @property
    def vocab_size(self) -> int:
        """The actual size: 256 + specials + learned tokens (fit first)."""
        self._check_fitted()
        return len(self._token_bytes)

    @property
    def eos_id(self) -> int | None:
        return self.special_ids.get(EOS)

    @property
    def unk_id(self) -> None:
        """Always ``None``: every string is made of bytes, so nothing is unknown."""
        return None

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``: special tokens as single ids, every chunk by :meth:`_encode_chunk`."""
        self._check_fitted()
        if not isinstance(text, str):
            raise TypeError(f"encode() takes a str, got {type(text).__name__}")
        out: list[int] = []
        cache, encode_chunk, findall = self._cache, self._encode_chunk, PRETOKENIZE.findall
        for piece, special in self._segments(text):
            if special is not None:
                out.append(special)
                continue
            for chunk in findall(piece):
                ids = cache.get(chunk)
                if ids is None:
                    if len(cache) >= self.cache_size:
                        cache.clear()
                    ids = cache[chunk] = encode_chunk(chunk)
                out.extend(ids)
        return out

    def encode_corpus(self, text: str):
        """Encode a corpus as ``(N,) int64``; with ``add_eos`` the last line also ends in eos."""
        if self.add_eos and text and not text.endswith("\n"):
            text += "\n"
        return super().encode_corpus(text)

    def decode(self, ids) -> str:
        """Text of ``ids``: their bytes joined, decoded as UTF-8 with ``errors="replace"`` (an
        arbitrary id sequence can end in the middle of a character).

        Raises
        ------
        ValueError
            For an id outside ``0 .. vocab_size-1``.
        """
        ids = self._ids_to_list(ids)
        table = self._token_bytes
        return b"".join([table[i] for i in ids]).decode("utf-8", errors="replace")

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes a single id stands for (useful to inspect what was learned)."""
        self._check_fitted()
        return self._token_bytes[int(self._ids_to_list([token_id])[0])]

    def _config(self) -> dict:
        return {"vocab_size": self.target_vocab_size, "special_tokens": list(self.special_tokens),
                "add_eos": self.add_eos, "cache_size": self.cache_size}
