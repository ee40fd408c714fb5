"""A vocabulary: the two-way map between tokens (strings) and ids (integers).

A language model never sees text. It sees integers ``0 .. V-1`` that index rows of its embedding
matrix and columns of its output layer; the :class:`Vocab` is the dictionary that translates.

Layout of the ids::

    0 .. k-1     the special tokens, in the order given (default ``<unk>``, ``<eos>``)
    k .. V-1     ordinary tokens; built from counts they come by descending count, then by token

Special tokens come first so that their ids do not move when the corpus changes: ``<unk>`` is id 0
in every vocabulary built with the defaults.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path

from .batching import validate_ids

UNK = "<unk>"
EOS = "<eos>"
PAD = "<pad>"
BOS = "<bos>"


class Vocab:
    """Token <-> id maps with special tokens.

    Parameters
    ----------
    tokens : iterable of str
        Ordinary tokens, in id order. Tokens that are also special tokens are skipped (so a corpus
        that already contains the literal ``<unk>``, like WikiText or PTB, does not get it twice).
    specials : sequence of str, default ``("<unk>", "<eos>")``
        Special tokens, given the first ids in this order. Add ``"<pad>"`` / ``"<bos>"`` here if a
        model needs them.
    unk_token : str or None, default ``"<unk>"``
        The token unknown tokens map to. It must be one of ``specials``. ``None`` means "no unknown
        token": :meth:`lookup` then raises ``KeyError`` for tokens it does not know.

    Attributes
    ----------
    itos : list of str
        id -> token (do not modify).
    stoi : dict of str to int
        token -> id (do not modify).
    """

    def __init__(self, tokens: Iterable[str] = (), specials: Iterable[str] = (UNK, EOS),
                 unk_token: str | None = UNK):
        specials = list(specials)
        for tok in specials:
            if not isinstance(tok, str) or not tok:
                raise TypeError(f"special tokens must be non-empty strings, got {tok!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"special tokens must be distinct, got {specials}")
        if unk_token is not None and unk_token not in specials:
            raise ValueError(f"unk_token {unk_token!r} must be one of the specials {specials}")
        self.specials: tuple[str, ...] = tuple(specials)
        self.unk_token = unk_token
        self.itos: list[str] = list(specials)
        self.stoi: dict[str, int] = {tok: i for i, tok in enumerate(specials)}
        for tok in tokens:
            if not isinstance(tok, str):
                raise TypeError(f"tokens must be strings, got {tok!r} ({type(tok).__name__})")
            if tok in self.stoi:
                if tok in self.specials:
                    continue
                raise ValueError(f"duplicate token {tok!r} in the vocabulary")
            self.stoi[tok] = len(self.itos)
            self.itos.append(tok)
        self.unk_id: int | None = None if unk_token is None else self.stoi[unk_token]

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_counts(cls, counts: Mapping[str, int] | Iterable[str], min_freq: int = 1,
                    max_size: int | None = None, specials: Iterable[str] = (UNK, EOS),
                    unk_token: str | None = UNK) -> "Vocab":
        """Build a vocabulary from token counts (or from an iterable of tokens, counted here).

        Parameters
        ----------
        counts : mapping token -> count, or iterable of tokens
        min_freq : int, default 1
            Keep tokens seen at least this many times; rarer ones will map to ``<unk>``.
        max_size : int or None
            The largest vocabulary size, *special tokens included* (so ``len(vocab) <= max_size``,
            which is the number the embedding and output layers see). ``None``: no limit.
        specials, unk_token
            As in :class:`Vocab`. Special tokens found in ``counts`` are not counted twice.

        Notes
        -----
        Order (and so the cut at ``max_size``) is by descending count, ties broken by the token
        string, so the same counts always give the same ids, whatever order they were seen in.
        """
        if not isinstance(counts, Mapping):
            counts = Counter(counts)
        if int(min_freq) != min_freq or min_freq < 1:
            raise ValueError(f"min_freq must be an integer >= 1, got {min_freq!r}")
        specials = tuple(specials)
        if max_size is not None and (int(max_size) != max_size or max_size < len(specials)):
            raise ValueError(f"max_size must be an integer >= the number of special tokens "
                             f"({len(specials)}), got {max_size!r}")
        kept = [(tok, c) for tok, c in counts.items() if c >= min_freq and tok not in specials]
        kept.sort(key=lambda item: (-item[1], item[0]))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls((tok for tok, _ in kept), specials=specials, unk_token=unk_token)

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __getitem__(self, token: str) -> int:
        return self.lookup(token)

    def __iter__(self):
        return iter(self.itos)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Vocab) and self.itos == other.itos
                and self.specials == other.specials and self.unk_token == other.unk_token)

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"Vocab(size={len(self)}, tokens=[{head}{more}])"

    def lookup(self, token: str) -> int:
        """The id of ``token``; unknown tokens give :attr:`unk_id` (``KeyError`` without one)."""
        idx = self.stoi.get(token)
        if idx is None:
            if self.unk_id is None:
                raise KeyError(f"token {token!r} is not in the vocabulary (which has no unk token)")
            return self.unk_id
        return idx

    def lookup_ids(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``, unknown ones mapped to :attr:`unk_id`."""
        if self.unk_id is None:
            return [self.lookup(t) for t in tokens]
        get, unk = self.stoi.get, self.unk_id
        return [get(t, unk) for t in tokens]

    def lookup_tokens(self, ids) -> list[str]:
        """Tokens of ``ids`` (a sequence or 1-D integer array).

        Raises
        ------
        ValueError
            For an id outside ``0 .. len(self)-1``, naming the id, its position and the size.
        """
        itos = self.itos
        return [itos[i] for i in validate_ids(ids, len(self)).reshape(-1).tolist()]

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """A JSON-safe description; :meth:`from_dict` inverts it."""
        return {"tokens": self.itos[len(self.specials):], "specials": list(self.specials),
                "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Vocab":
        return cls(d["tokens"], specials=d["specials"], unk_token=d.get("unk_token"))

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (UTF-8, ASCII-escaped so any token survives)."""
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Vocab":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
