"""Workbook: Byte-pair encoding: learning merges, encoding (lesson 2).

Write count_pairs, merge_pair, learn_merges, encode_chunk.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
from collections import Counter


def count_pairs(words, freqs):
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
    # Compute: For each word (a list of ids) and its frequency, add the frequency to the count of
    #          every adjacent pair (word[k], word[k+1]).
    # Hint: A word that occurs 5 times contributes 5 to each of its pairs.
    raise NotImplementedError("count_pairs is not written yet")


def merge_pair(ids, pair, new_id):
    """Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new_id``.

    ``merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]``: occurrences do not overlap.
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
        else:
            out.append(ids[i])
        i += 1                                       # BUG: should jump 2 after a merge
    return out


def learn_merges(chunk_counts, num_merges, first_id=256):
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
    # Compute: words = the chunks as lists of bytes, freqs = their counts; token_bytes maps each id
    #          to the bytes it spells (0..255 to themselves). Repeat num_merges times: count the
    #          pairs; stop if none; pick the pair with the highest count, ties to the smallest
    #          (token_bytes[left], token_bytes[right]), then the smallest ids; record it, give it id
    #          first_id + k (spelling the two joined), merge it in every word.
    # Hint: min(counts, key=lambda p: (-counts[p], token_bytes[p[0]], token_bytes[p[1]], p)) applies
    #       the whole tie rule.
    raise NotImplementedError("learn_merges is not written yet")


def encode_chunk(ids, ranks):
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
    # Compute: While there are two or more ids: among the adjacent pairs present, pick the one with
    #          the smallest rank (ranks[pair]; pairs not in ranks never merge); if none is in ranks,
    #          stop; else merge it everywhere with merge_pair, its new id being ranks[pair].
    # Hint: Merge by rank, not from left to right: training applied the merges in the order it
    #       learned them.
    raise NotImplementedError("encode_chunk is not written yet")
