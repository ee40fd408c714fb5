r"""A unigram language-model tokenizer (Kudo 2018), trained from scratch as SentencePiece trains it.

BPE builds its vocabulary bottom-up, one merge at a time. The unigram model goes top-down: start
from far too many candidate pieces, then repeatedly throw away the ones the corpus needs least.

The model
---------
Each piece :math:`w` of the vocabulary has a probability :math:`p(w)`, and a segmentation
:math:`s = (w_1, \dots, w_n)` of a chunk of text has probability :math:`\prod_k p(w_k)`.
Encoding picks the most probable segmentation (the Viterbi path through the *lattice* of every
piece that matches somewhere in the chunk). Training maximises the likelihood of the corpus
summed over all segmentations, with the pieces as latent variables:

1. **Seed**: every substring of the chunks up to ``max_piece_length`` characters that occurs at
   least twice, ranked by frequency x length; keep the best ``seed_size``, and every character.
2. **EM**: the E-step runs forward-backward over each chunk's lattice to get the *expected*
   number of times each piece is used; the M-step sets :math:`p(w)` to those counts, normalised.
3. **Prune**: for each piece, the loss of likelihood if it were removed: its expected count
   times the gap between its log-probability and that of the best segmentation of the same
   string without it. Keep the ``shrink`` fraction that costs most to lose (never single
   characters), and repeat 2-3 until ``vocab_size`` is reached.

Lossless on any text: the 256 byte values have ids of their own (as in byte-level BPE), and a
character that no piece covers is encoded as its UTF-8 bytes ("byte fallback"). Pieces never
cross the chunks of GPT-2's pre-tokenization, so a piece may start with a space (" the") as
SentencePiece's start with "▁".
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

from .bytelevel import ByteLevelTokenizer
from .vocab import EOS

NEG_INF = float("-inf")


def _logsumexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


def seed_pieces(chunk_counts: Mapping[str, int], max_length: int, seed_size: int) -> dict[str, float]:
    """Candidate pieces and their counts: all characters, and the ``seed_size`` best substrings of
    two or more characters that occur at least twice (by count x length)."""
    counts: Counter = Counter()
    chars: Counter = Counter()
    for chunk, n in chunk_counts.items():
        L = len(chunk)
        for i in range(L):
            chars[chunk[i]] += n
            for j in range(i + 2, min(L, i + max_length) + 1):
                counts[chunk[i:j]] += n
    multi = [(c * len(s), s) for s, c in counts.items() if c >= 2]
    multi.sort(reverse=True)
    pieces = {s: float(counts[s]) for _, s in multi[:seed_size]}
    pieces.update((c, float(n)) for c, n in chars.items())
    return pieces


def _lattice_ends(chunk: str, logp: Mapping[str, float], max_length: int):
    """For every end position e, the (start, log p) of each piece that ends there."""
    L = len(chunk)
    ends: list[list[tuple[int, float]]] = [[] for _ in range(L + 1)]
    for s in range(L):
        for e in range(s + 1, min(L, s + max_length) + 1):
            lp = logp.get(chunk[s:e])
            if lp is not None:
                ends[e].append((s, lp))
    return ends


def expected_counts(chunk_counts: Mapping[str, int], logp: Mapping[str, float],
                    max_length: int) -> tuple[dict[str, float], float]:
    """The E-step: the expected number of uses of every piece, over all segmentations of every
    chunk weighted by their probability (forward-backward in log space), and the log-likelihood.

    Returns
    -------
    counts : dict piece -> expected count (chunk frequencies included)
    log_likelihood : float, sum over chunks of count x log(sum over segmentations of p)
    """
    counts: dict[str, float] = {}
    total = 0.0
    for chunk, n in chunk_counts.items():
        L = len(chunk)
        ends = _lattice_ends(chunk, logp, max_length)
        alpha = [NEG_INF] * (L + 1)
        alpha[0] = 0.0
        for e in range(1, L + 1):
            for s, lp in ends[e]:
                alpha[e] = _logsumexp(alpha[e], alpha[s] + lp)
        Z = alpha[L]
        if Z == NEG_INF:
            continue                      # not segmentable (cannot happen: every character is a piece)
        beta = [NEG_INF] * (L + 1)
        beta[L] = 0.0
        for e in range(L, 0, -1):
            for s, lp in ends[e]:
                beta[s] = _logsumexp(beta[s], lp + beta[e])
        for e in range(1, L + 1):
            for s, lp in ends[e]:
                posterior = math.exp(alpha[s] + lp + beta[e] - Z)
                if posterior > 1e-12:
                    piece = chunk[s:e]
                    counts[piece] = counts.get(piece, 0.0) + n * posterior
        total += n * Z
    return counts, total


def viterbi(chunk: str, logp: Mapping[str, float], max_length: int,
            unknown_logp: float | None = None) -> list[tuple[int, int]]:
    """The most probable segmentation of ``chunk`` into pieces, as (start, end) spans.

    With ``unknown_logp`` a single character that is no piece is allowed as a span of its own at
    that log-probability (it becomes byte tokens); without it such a chunk has no segmentation.
    """
    L = len(chunk)
    best = [NEG_INF] * (L + 1)
    back = [0] * (L + 1)
    best[0] = 0.0
    for e in range(1, L + 1):
        for s in range(max(0, e - max_length), e):
            if best[s] == NEG_INF:
                continue
            lp = logp.get(chunk[s:e])
            if lp is None and unknown_logp is not None and e == s + 1:
                lp = unknown_logp
            if lp is not None and best[s] + lp > best[e]:
                best[e], back[e] = best[s] + lp, s
    if best[L] == NEG_INF:
        return []
    spans, e = [], L
    while e > 0:
        spans.append((back[e], e))
        e = back[e]
    return spans[::-1]


def prune(pieces: dict[str, float], counts: Mapping[str, float], keep: int, max_length: int) -> dict[str, float]:
    """Keep the ``keep`` multi-character pieces whose removal would cost the most likelihood
    (and every single character). ``pieces`` maps piece -> log p, ``counts`` the expected uses."""
    losses = []
    for piece, lp in pieces.items():
        if len(piece) == 1:
            continue
        freq = counts.get(piece, 0.0)
        if freq <= 0.0:
            losses.append((0.0, piece))
            continue
        others = dict(pieces)
        del others[piece]
        spans = viterbi(piece, others, max_length)
        alternative = sum(others[piece[s:e]] for s, e in spans) if spans else NEG_INF
        losses.append((freq * (lp - alternative), piece))
    losses.sort(reverse=True)
    kept = {p: pieces[p] for _, p in losses[:keep]}
    kept.update((p, lp) for p, lp in pieces.items() if len(p) == 1)
    return kept


def _normalised_logp(counts: Mapping[str, float], floor: float = 1e-8) -> dict[str, float]:
    total = sum(counts.values())
    return {p: math.log(max(c, floor) / total) for p, c in counts.items()}


class UnigramTokenizer(ByteLevelTokenizer):
    """Unigram language-model tokenizer with byte fallback (SentencePiece's algorithm).

    Parameters
    ----------
    vocab_size : int, 256 bytes + special tokens + pieces
    special_tokens, add_eos, cache_size : as for :class:`~scratchlstm.text.bpe.BPETokenizer`
    max_piece_length : int, the longest piece in characters (default 16)
    seed_size : int or None, candidate pieces to start from (default ``4 * vocab_size``)
    shrink : float in (0, 1), the fraction of pieces each pruning round keeps (default 0.75)
    em_iterations : int, EM iterations before each pruning round (default 2)

    After ``fit``, :attr:`pieces` lists the learned pieces (ids from ``256 + len(specials)`` on,
    in that order), :attr:`log_probs` their log-probabilities, and :attr:`training_log` one row
    per EM iteration (pruning round, number of pieces, log-likelihood of the corpus).
    """

    kind = "unigram"

    def __init__(self, vocab_size: int = 1000, special_tokens: Iterable[str] = (EOS,),
                 add_eos: bool = False, cache_size: int = 200_000, max_piece_length: int = 16,
                 seed_size: int | None = None, shrink: float = 0.75, em_iterations: int = 2):
        super().__init__(vocab_size, special_tokens, add_eos, cache_size)
        if not (isinstance(max_piece_length, int) and max_piece_length >= 1):
            raise ValueError(f"max_piece_length must be an integer >= 1, got {max_piece_length!r}")
        if not 0.0 < shrink < 1.0:
            raise ValueError(f"shrink must be in (0, 1), got {shrink!r}")
        if not (isinstance(em_iterations, int) and em_iterations >= 1):
            raise ValueError(f"em_iterations must be an integer >= 1, got {em_iterations!r}")
        self.max_piece_length = max_piece_length
        self.seed_size = seed_size
        self.shrink = float(shrink)
        self.em_iterations = em_iterations
        self.pieces: list[str] | None = None
        self.log_probs: list[float] | None = None
        self.training_log: list[dict] = []

    # ------------------------------------------------------------------ training
    def fit(self, texts: str | Iterable[str]) -> "UnigramTokenizer":
        """Learn the pieces and their probabilities from ``texts`` (see the module docstring)."""
        chunk_counts = self._chunk_counts(texts)
        n_pieces = self.target_vocab_size - 256 - len(self.special_tokens)
        seed = self.seed_size or 4 * max(n_pieces, 1)
        counts = seed_pieces(chunk_counts, self.max_piece_length, seed)
        logp = _normalised_logp(counts)
        self.training_log = []
        round_ = 0
        while True:
            for _ in range(self.em_iterations):
                counts, likelihood = expected_counts(chunk_counts, logp, self.max_piece_length)
                # the likelihood of the pieces the E-step used, before this M-step updates them
                self.training_log.append({"round": round_, "pieces": len(logp),
                                          "log_likelihood": likelihood})
                # pieces no segmentation uses any more drop out; characters always stay
                counts.update((p, 0.0) for p in logp if len(p) == 1 and p not in counts)
                logp = _normalised_logp(counts)
            round_ += 1
            n_chars = sum(1 for p in logp if len(p) == 1)
            if len(logp) <= n_pieces or len(logp) == n_chars:
                break             # done; or only characters left, and the cut below keeps the best
            target = max(n_pieces, int(len(logp) * self.shrink))
            logp = prune(logp, counts, max(target - n_chars, 0), self.max_piece_length)
            logp = _normalised_logp({p: math.exp(v) for p, v in logp.items()})
        # Most probable first, so that a smaller vocabulary is a prefix of a larger one's order.
        ordered = sorted(logp.items(), key=lambda kv: (-kv[1], kv[0]))[:max(n_pieces, 0)]
        self._set_pieces([p for p, _ in ordered], [lp for _, lp in ordered])
        return self

    def _set_pieces(self, pieces: list[str], log_probs: list[float]) -> None:
        """Install pieces and their log-probabilities: the byte table and the lookup tables."""
        if len(pieces) != len(log_probs) or len(set(pieces)) != len(pieces) or not all(
                isinstance(p, str) and p for p in pieces):
            raise ValueError("pieces must be distinct non-empty strings, one log-probability each")
        base = 256 + len(self.special_tokens)
        table = self._base_table() + [p.encode("utf-8") for p in pieces]
        self.pieces, self.log_probs = list(pieces), [float(v) for v in log_probs]
        self._logp = dict(zip(self.pieces, self.log_probs))
        self._ids = {p: base + k for k, p in enumerate(self.pieces)}
        # A character no piece covers costs more than any piece: byte fallback is the last resort.
        self._unknown_logp = (min(self.log_probs) if self.log_probs else 0.0) - 10.0
        self._install_table(table)

    # ------------------------------------------------------------------ encoding
    @property
    def is_fitted(self) -> bool:
        return self.pieces is not None

    def _encode_chunk(self, chunk: str) -> list[int]:
        """The Viterbi segmentation of one chunk; uncovered characters as their UTF-8 bytes."""
        out: list[int] = []
        for s, e in viterbi(chunk, self._logp, self.max_piece_length, self._unknown_logp):
            piece = chunk[s:e]
            token = self._ids.get(piece)
            if token is None:
                out.extend(piece.encode("utf-8"))          # byte fallback: ids 0..255
            else:
                out.append(token)
        return out

    # ------------------------------------------------------------------ persistence
    def _config(self) -> dict:
        return {**super()._config(), "max_piece_length": self.max_piece_length,
                "seed_size": self.seed_size, "shrink": self.shrink,
                "em_iterations": self.em_iterations}

    def _state(self) -> dict:
        return {"pieces": self.pieces, "log_probs": self.log_probs}

    def _set_state(self, state: Mapping) -> None:
        self._set_pieces(list(state["pieces"]), list(state["log_probs"]))
