"""The tokenizer protocol shared by :class:`CharTokenizer`, :class:`WordTokenizer` and
:class:`BPETokenizer`, and the functions that restore a saved tokenizer of any kind.

Every tokenizer::

    tok = SomeTokenizer(...).fit(texts)     # learn the vocabulary; returns tok itself
    ids = tok.encode("some text")           # list[int]
    text = tok.decode(ids)                  # str
    tok.vocab_size, tok.eos_id, tok.unk_id  # what the model and the data pipeline need
    arr = tok.encode_corpus(corpus)         # (N,) int64 array for batchify
    tok.save("tok.json"); tok = load_tokenizer("tok.json")

Tokenizers are saved as JSON (a ``to_dict()`` with a ``"kind"`` field), never with pickle: a
pickle file can run arbitrary code when loaded, JSON cannot.
"""
from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from ..backend import np
from .batching import validate_ids

FORMAT_VERSION = 1

#: kind -> tokenizer class, filled in by ``Tokenizer.__init_subclass__``.
_REGISTRY: dict[str, type["Tokenizer"]] = {}


class Tokenizer:
    """Base class: fitting state, id checks, ``encode_corpus`` and JSON persistence.

    Subclasses set the class attribute :attr:`kind` and implement ``fit``, ``encode``, ``decode``,
    ``vocab_size``, ``_config`` (constructor arguments) and ``_state`` / ``_set_state`` (what
    ``fit`` learned).
    """

    #: "char", "word" or "bpe": the key stored in saved files.
    kind: str = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _REGISTRY[cls.kind] = cls

    # ------------------------------------------------------------------ the protocol
    def fit(self, texts: str | Iterable[str]) -> "Tokenizer":
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids) -> str:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    @property
    def eos_id(self) -> int | None:
        """Id of the end-of-sequence token, or ``None`` when this tokenizer has none."""
        return None

    @property
    def unk_id(self) -> int | None:
        """Id of the unknown token, or ``None`` when nothing can be unknown (byte-level BPE)."""
        return None

    @property
    def is_fitted(self) -> bool:
        raise NotImplementedError

    def encode_corpus(self, text: str):
        """Encode a whole corpus into a 1-D ``int64`` array, ready for :func:`batchify`.

        Returns
        -------
        ids : (N,) int64 ndarray (host)
        """
        return np.asarray(self.encode(text), dtype=np.int64)

    # ------------------------------------------------------------------ shared helpers
    def _check_fitted(self) -> None:
        if not self.is_fitted:
            name = type(self).__name__
            raise RuntimeError(f"{name} is not fitted yet: call {name}(...).fit(texts) (or load a "
                               "saved one with load_tokenizer(path)) before encode/decode")

    @staticmethod
    def _as_texts(texts: str | Iterable[str]) -> Iterable[str]:
        """A single string is one text; anything else is iterated as texts (lazily)."""
        if isinstance(texts, str):
            return (texts,)
        if isinstance(texts, (bytes, bytearray)):
            raise TypeError("fit() takes str, not bytes: decode the text first (e.g. with "
                            "load_text, which also reports bytes that are not UTF-8)")

        def checked():
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"texts[{i}] is {type(t).__name__}, expected str")
                yield t
        return checked()

    def _ids_to_list(self, ids) -> list[int]:
        """Validate ids against the vocabulary and return them as a list of Python ints.

        Accepts lists, tuples and 1-D NumPy/CuPy integer arrays (copied to the host: decoding is
        one of the edges where data leave the device).
        """
        self._check_fitted()
        if isinstance(ids, (int, np.integer)):
            raise TypeError("decode() takes a sequence of ids; wrap a single id in a list")
        arr = validate_ids(ids, self.vocab_size)
        if arr.ndim != 1:
            raise ValueError(f"decode() takes a 1-D sequence of ids, got shape {arr.shape}")
        return arr.tolist()

    # ------------------------------------------------------------------ persistence
    def _config(self) -> dict:
        """Constructor arguments, JSON-safe."""
        raise NotImplementedError

    def _state(self) -> dict:
        """What fit() learned, JSON-safe."""
        raise NotImplementedError

    def _set_state(self, state: Mapping) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict:
        """A JSON-safe dict with ``kind``, the constructor arguments and the learned state."""
        self._check_fitted()
        return {"kind": self.kind, "format_version": FORMAT_VERSION,
                "config": self._config(), "state": self._state()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Tokenizer":
        """Rebuild a tokenizer from :meth:`to_dict` output (of this class's kind).

        The saved constructor arguments must be exactly this kind's: a file whose ``kind`` was
        changed by hand (a char vocabulary labelled "word") is refused, not loaded with defaults.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"saved tokenizer must be a JSON object, got {type(d).__name__}")
        if d.get("kind") != cls.kind:
            raise ValueError(f"{cls.__name__}.from_dict got a {d.get('kind')!r} tokenizer; "
                             "use tokenizer_from_dict() to restore any kind")
        version = d.get("format_version")
        if isinstance(version, bool) or version != FORMAT_VERSION:
            raise ValueError(f"unsupported tokenizer format_version {version!r} "
                             f"(this version reads {FORMAT_VERSION})")
        for key in ("config", "state"):
            if not isinstance(d.get(key), Mapping):
                raise ValueError(f"saved {cls.kind} tokenizer has no {key!r} object")
        expected = set(inspect.signature(cls.__init__).parameters) - {"self"}
        if set(d["config"]) != expected:
            raise ValueError(f"saved {cls.kind} tokenizer has settings {sorted(d['config'])}, but a "
                             f"{cls.kind} tokenizer takes {sorted(expected)}: was its 'kind' edited?")
        try:
            tok = cls(**d["config"])
            tok._set_state(d["state"])
        except KeyError as exc:
            raise ValueError(f"saved {cls.kind} tokenizer state has no {exc} entry") from exc
        except (TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"saved {cls.kind} tokenizer is malformed ({type(exc).__name__}: {exc})") from exc
        return tok

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON. Non-ASCII characters are escaped, so any token
        (control characters, emoji, lone surrogates) survives the round trip."""
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        """Load a tokenizer saved by :meth:`save`. ``Tokenizer.load`` accepts any kind."""
        if cls is Tokenizer:
            return load_tokenizer(path)
        try:
            return cls.from_dict(_read_json(path))
        except ValueError as exc:
            if str(path) in str(exc):
                raise
            raise ValueError(f"{path}: {exc}") from None

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        size = self.vocab_size if self.is_fitted else "unfitted"
        return f"{type(self).__name__}({args}) [vocab_size={size}]"


class VocabTokenizer(Tokenizer):
    """Base for tokenizers whose ids are the entries of a :class:`~scratchlstm.text.vocab.Vocab`
    (characters, words): fitting builds ``self.vocab``; size and ``<unk>`` come from it."""

    vocab = None

    @property
    def is_fitted(self) -> bool:
        return self.vocab is not None

    @property
    def vocab_size(self) -> int:
        self._check_fitted()
        return len(self.vocab)

    @property
    def unk_id(self) -> int | None:
        self._check_fitted()
        return self.vocab.unk_id


def _read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no tokenizer file at {path}")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path} is not a saved tokenizer: it is not valid JSON ({exc})") from None
    if not isinstance(d, dict) or "kind" not in d:
        raise ValueError(f"{path} is not a saved tokenizer (no 'kind' field)")
    return d


def tokenizer_from_dict(d: Mapping) -> Tokenizer:
    """Restore a tokenizer of whichever kind ``d["kind"]`` names ("char", "word" or "bpe")."""
    if not isinstance(d, Mapping):
        raise ValueError(f"saved tokenizer must be a JSON object, got {type(d).__name__}")
    kind = d.get("kind")
    if not isinstance(kind, str) or kind not in _REGISTRY:
        raise ValueError(f"unknown tokenizer kind {kind!r}; known kinds: {sorted(_REGISTRY)}")
    return _REGISTRY[kind].from_dict(d)


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a tokenizer saved with ``tok.save(path)``, whatever its kind.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        The file is not a saved tokenizer, or is damaged; the message names the file.
    """
    d = _read_json(path)
    try:
        return tokenizer_from_dict(d)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
