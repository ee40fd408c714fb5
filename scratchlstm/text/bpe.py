r"""Byte-level byte-pair encoding (BPE), trained from scratch, as in GPT-2.

The idea (Sennrich et al. 2016, on bytes as in GPT-2, Radford et al. 2019):

1. **Bytes as the alphabet.** Text is UTF-8 encoded, so the base vocabulary is the 256 byte values
   and *every* string can be encoded: there is no ``<unk>``.
2. **Pre-tokenization.** A regular expression (:data:`GPT2_PATTERN`) cuts text into chunks such as
   ``"Hello"``, ``" world"``, ``"!"``, ``"'s"``; merges never cross a chunk boundary, so a token
   never glues the end of one word to the start of the next.
3. **Training** repeats: count every adjacent pair of tokens inside the chunks (each chunk weighted
   by how often it occurs), merge the most frequent pair into a new token, everywhere. Each merge
   adds one token to the vocabulary, until it reaches ``vocab_size``.
4. **Encoding** a chunk starts from its bytes and applies the learned merges, always the earliest
   learned (lowest *rank*) pair present first. That reproduces exactly the segmentation training
   would have produced (a pair built from a new token always has a higher rank than that token).

Id layout: ``0..255`` are the bytes (id ``b`` is byte ``b``), then the special tokens, then one id
per merge in the order learned: merge ``k`` creates id ``256 + len(special_tokens) + k``.

Ties (two pairs with the same count) are broken deterministically: the pair whose byte strings
``(left, right)`` compare smallest wins (Python ``bytes`` order, i.e. by byte value), and then,
in the rare case that two different ids spell the same bytes, the smaller ids. (That case exists
because every merge makes a new id: ``ab + c`` and ``a + bc`` would give two ids for ``abc``.
Decoding does not care, and WikiText-2 at 8,000 tokens has no such duplicate.)

Training cost
-------------
The plain trainer, :func:`learn_merges` (the reading track, rebuilt in the workbook), recounts
all pairs after every merge: ``O(merges x corpus)``. :meth:`BPETokenizer.fit` (the speed track,
proved to learn the same merges) keeps

* ``pair_counts``: pair -> weighted count,
* ``pair_words``: pair -> set of the (distinct) chunks containing it,
* a heap of ``(-count, left bytes, right bytes, pair)`` entries,

and after merging a pair it revisits *only the chunks that contain it*, applying the count changes
to those chunks' pairs. Heap entries are not removed when a count changes; a new entry is pushed
and stale ones are skipped when they reach the top ("lazy deletion").
"""
from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from .bytelevel import ByteLevelTokenizer
from .chunks import GPT2_PATTERN, PRETOKENIZE, pretokenize  # noqa: F401 - re-exported
from .vocab import EOS

def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id``.

    ``merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]``: occurrences do not overlap.
    """
    a, b = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def count_pairs(words: list[list[int]], freqs: list[int]) -> Counter:
    """How often each adjacent pair of ids occurs, each word weighted by its frequency.

    ``count_pairs([[1, 2, 3], [1, 2]], [5, 2]) == {(1, 2): 7, (2, 3): 5}``

    Parameters
    ----------
    words : list of id lists, one per distinct chunk
    freqs : list of int, how often each chunk occurs in the corpus

    Returns
    -------
    Counter mapping ``(left id, right id)`` to its weighted count
    """
    counts: Counter = Counter()
    for word, freq in zip(words, freqs):
        for pair in zip(word, word[1:]):
            counts[pair] += freq
    return counts


def learn_merges(chunk_counts: Mapping[bytes, int], num_merges: int,
                 first_id: int = 256) -> list[tuple[int, int]]:
    """Learn BPE merges by recounting every pair before each merge (the plain trainer).

    Each round merges the most frequent pair everywhere. Ties go to the pair whose byte strings
    ``(left, right)`` compare smallest, then to the smaller ids. Merge ``k`` creates id
    ``first_id + k``. Stops early when no pair is left. :meth:`BPETokenizer.fit` learns the same
    merges faster, by updating only the counts that a merge changes.

    Parameters
    ----------
    chunk_counts : mapping from a chunk's UTF-8 bytes to how often it occurs
    num_merges : int >= 0
    first_id : int, the id of the first new token (256 + the number of special tokens)

    Returns
    -------
    list of ``(left id, right id)`` pairs, in the order learned
    """
    words = [list(chunk) for chunk in chunk_counts]       # each chunk starts as its bytes
    freqs = list(chunk_counts.values())
    token_bytes = {b: bytes([b]) for b in range(256)}     # what each id spells
    merges: list[tuple[int, int]] = []
    for k in range(num_merges):
        counts = count_pairs(words, freqs)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], token_bytes[p[0]], token_bytes[p[1]], p))
        new_id = first_id + k
        token_bytes[new_id] = token_bytes[best[0]] + token_bytes[best[1]]
        merges.append(best)
        words = [merge_pair(word, best, new_id) for word in words]
    return merges


def encode_chunk(ids: list[int], ranks: Mapping[tuple[int, int], int]) -> list[int]:
    """Apply learned merges to one chunk: the present pair learned earliest first, until none apply.

    Parameters
    ----------
    ids : list of int, the chunk's bytes (or ids)
    ranks : mapping from a merged pair to the id it creates; ids grow with the order of
        learning, so the smallest id is the earliest merge

    Returns
    -------
    list of int, the chunk's tokens
    """
    while len(ids) > 1:
        # The present pair learned earliest; unknown pairs rank "infinitely late".
        best = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, float("inf")))
        if best not in ranks:
            break
        ids = merge_pair(ids, best, ranks[best])
    return ids


class BPETokenizer(ByteLevelTokenizer):
    """Byte-level BPE with GPT-2 pre-tokenization.

    Parameters
    ----------
    vocab_size : int, default 1000
        Target size: 256 bytes + special tokens + merges. Training stops earlier if no pair is
        left to merge (then :attr:`vocab_size` is smaller than asked).
    special_tokens : sequence of str, default ``("<eos>",)``
        Tokens with ids of their own. Where they occur literally in text they are encoded as that
        single id (never split into bytes), and merges never cross them.
    add_eos : bool, default False
        Treat every newline as ``<eos>`` (which must be among ``special_tokens``): ``"\n"`` is
        encoded as the eos id and the eos id decodes to ``"\n"``, so the round trip stays exact,
        except that a literal ``"<eos>"`` in the text then also comes back as a newline. With
        ``False`` (default) newlines are ordinary bytes and ``<eos>`` decodes to ``"<eos>"``.
    cache_size : int, default 200_000
        Maximum number of chunks remembered by the encoding cache (cleared when full).

    Notes
    -----
    Round trip: ``decode(encode(s)) == s`` for every string ``s`` (any Unicode, seen or not),
    because encoding is lossless down to bytes. Decoding an arbitrary id sequence can produce
    bytes that are not valid UTF-8 (half a character); those decode with ``errors="replace"``.
    """

    kind = "bpe"

    def __init__(self, vocab_size: int = 1000, special_tokens: Iterable[str] = (EOS,),
                 add_eos: bool = False, cache_size: int = 200_000):
        super().__init__(vocab_size, special_tokens, add_eos, cache_size)
        self.merges: list[tuple[int, int]] | None = None

    # ------------------------------------------------------------------ training
    def fit(self, texts: str | Iterable[str]) -> "BPETokenizer":
        """Learn merges from ``texts`` (a str or an iterable of str) until ``vocab_size``.

        Fitting again starts from scratch. Returns ``self``.
        """
        # 1. Distinct chunks and how often each occurs. Training works on these (tens of
        #    thousands for WikiText-2) instead of the millions of chunk occurrences.
        chunk_counts = self._chunk_counts(texts)
        words = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
        freqs = list(chunk_counts.values())

        # 2. Token bytes: bytes 0..255, then the specials (never merged), then merges.
        token_bytes = [bytes([b]) for b in range(256)]
        token_bytes += [s.encode("utf-8") for s in self.special_tokens]

        # 3. Initial pair counts, the pair -> chunks index, and the heap.
        pair_counts: defaultdict = defaultdict(int)
        pair_words: defaultdict = defaultdict(set)
        for w, (word, f) in enumerate(zip(words, freqs)):
            for pair in zip(word, word[1:]):
                pair_counts[pair] += f
                pair_words[pair].add(w)
        heap = [(-c, token_bytes[a], token_bytes[b], a, b) for (a, b), c in pair_counts.items()]
        heapq.heapify(heap)

        merges: list[tuple[int, int]] = []
        n_merges = self.target_vocab_size - len(token_bytes)
        while len(merges) < n_merges:
            # 4. The best pair: pop stale entries (count changed since they were pushed).
            while heap:
                neg_count, _, _, a, b = heap[0]
                if pair_counts.get((a, b), 0) == -neg_count:
                    break
                heapq.heappop(heap)
            if not heap:
                break                                   # nothing left to merge
            heapq.heappop(heap)
            pair, new_id = (a, b), len(token_bytes)
            merges.append(pair)
            token_bytes.append(token_bytes[a] + token_bytes[b])

            # 5. Rewrite only the chunks containing the pair; collect the count changes.
            delta: defaultdict = defaultdict(int)
            for w in pair_words.pop(pair):
                old, f = words[w], freqs[w]
                new = merge_pair(old, pair, new_id)
                words[w] = new
                old_pairs, new_pairs = list(zip(old, old[1:])), list(zip(new, new[1:]))
                for p in old_pairs:
                    delta[p] -= f
                for p in new_pairs:
                    delta[p] += f
                for p in set(old_pairs).difference(new_pairs):
                    if p != pair:
                        pair_words[p].discard(w)
                for p in set(new_pairs).difference(old_pairs):
                    pair_words[p].add(w)

            # 6. Apply the changes; push a fresh heap entry for every pair whose count moved.
            for p, d in delta.items():
                if d == 0:
                    continue
                c = pair_counts.get(p, 0) + d
                if c > 0:
                    pair_counts[p] = c
                    heapq.heappush(heap, (-c, token_bytes[p[0]], token_bytes[p[1]], p[0], p[1]))
                else:                                   # c == 0: the pair is gone
                    pair_counts.pop(p, None)
                    pair_words.pop(p, None)

        self._set_merges(merges)
        return self

    def _set_merges(self, merges: list[tuple[int, int]]) -> None:
        """Install learned merges: build the byte table, the rank table, clear the cache."""
        base = 256 + len(self.special_tokens)
        table = self._base_table()
        ranks: dict[tuple[int, int], int] = {}
        for k, (a, b) in enumerate(merges):
            new_id = base + k
            if not (0 <= a < new_id and 0 <= b < new_id) or 256 <= a < base or 256 <= b < base:
                raise ValueError(f"merge {k} = ({a}, {b}) refers to an id that is a special token "
                                 f"or does not exist yet (it creates id {new_id})")
            table.append(table[a] + table[b])
            ranks[(a, b)] = new_id                      # the new id *is* the rank, offset by base
        self.merges = [tuple(m) for m in merges]
        self._ranks = ranks
        self._install_table(table)

    # ------------------------------------------------------------------ the protocol
    @property
    def is_fitted(self) -> bool:
        return self.merges is not None

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Encode one chunk: its bytes, then the learned merges (see :func:`encode_chunk`)."""
        return encode_chunk(list(chunk.encode("utf-8")), self._ranks)

    # ------------------------------------------------------------------ persistence
    def _state(self) -> dict:
        # Merges as id pairs: everything else (the byte table, the ranks) follows from them.
        return {"merges": [list(m) for m in self.merges]}

    def _set_state(self, state: Mapping) -> None:
        self._set_merges([tuple(m) for m in state["merges"]])
