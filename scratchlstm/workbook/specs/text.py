"""Specs of sampling.py and bpe.py: temperature, top-k, top-p, sampling; BPE merges and encoding."""
from __future__ import annotations

from collections import Counter
from functools import lru_cache

from ... import generation as G
from ...backend import np
from ...text import bpe as B
from ..ladder import FAIL, PASS, Case, KnownBug, Rung, Spec, guarded, mutant, with_globals
from ..integration import sentence_tokenizer


def _cases(specs):
    return lambda: [Case(label, (lambda make=make: make()), 1e-9) for label, make in specs]


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
_LOGITS = np.array([2.0, -1.0, 0.5, 3.0, 0.0, -2.5, 1.5])

TEMPERATURE_CASES = [
    ("temperature 1", lambda: dict(logits=_LOGITS.copy(), temperature=1.0)),
    ("temperature 0.5 (sharper)", lambda: dict(logits=_LOGITS.copy(), temperature=0.5)),
    ("temperature 2 (flatter)", lambda: dict(logits=_LOGITS.copy(), temperature=2.0)),
    ("temperature 0 (greedy), a tie for the maximum",
     lambda: dict(logits=np.array([1.0, 4.0, 4.0, 0.0]), temperature=0.0)),
    ("logits near 1000", lambda: dict(logits=_LOGITS * 10 + 1000.0, temperature=0.8)),
]

_PROBS = G.temperature_softmax(_LOGITS)          # (7,), all different


def _filter_cases(argument, values):
    return [(f"{argument} {v}" + (f" ({note})" if note else ""),
             (lambda probs=probs, v=v: dict(probs=probs.copy(), **{argument: v})))
            for v, probs, note in values]


TOP_K_CASES = _filter_cases("k", [(3, _PROBS, ""), (1, _PROBS, "greedy"), (7, _PROBS, "k = V"),
                                  (2, np.array([0.1, 0.3, 0.3, 0.3]), "ties at the cut-off")])
TOP_P_CASES = _filter_cases("p", [(0.9, _PROBS, ""), (0.1, _PROBS, "below the top probability"),
                                  (0.8, np.array([0.5, 0.3, 0.2]), "reached exactly by two tokens"),
                                  (1.0, _PROBS, "everything")])


def _sorted_mass_below(probs, p):
    """The bug: keep only the tokens whose running sum stays below p (the crossing one dropped)."""
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    keep = np.zeros(probs.shape, dtype=bool)
    keep[order[cumulative < p - 1e-12]] = True
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum()


def _unsorted_nucleus(probs, p):
    """The bug: the running sum taken in vocabulary order instead of by probability."""
    cumulative = np.cumsum(probs)
    n_keep = int(np.searchsorted(cumulative, p - 1e-12)) + 1
    kept = np.where(np.arange(probs.size) < n_keep, probs, 0.0)
    return kept / kept.sum()


def _not_renormalised(filter_fn):
    def buggy(probs, **kw):
        kept = filter_fn(probs.copy(), *kw.values())
        return np.where(kept > 0, probs, 0.0)
    return lambda **kw: buggy(**kw)


RENORMALISE_HINT = "Renormalise: divide the kept probabilities by their sum, so that they add up to 1."

TEMPERATURE_SOFTMAX = Spec(
    "temperature_softmax", _cases(TEMPERATURE_CASES), outputs=("probs",),
    bugs=(KnownBug("Divide the logits by the temperature, softmax(logits / temperature): a low "
                   "temperature sharpens the distribution.",
                   mutant(lambda logits, temperature: G.temperature_softmax(logits * temperature)
                          if temperature else None, ("probs",))),
          KnownBug("exp overflows for logits near 1000: subtract the maximum before exp.",
                   lambda case, got, want: "1000" in case.label and not np.all(np.isfinite(got["probs"])))),
    integration=lambda fn: generation_rung("temperature_softmax", fn))

TOP_K_FILTER = Spec(
    "top_k_filter", _cases(TOP_K_CASES), outputs=("probs",),
    bugs=(KnownBug(RENORMALISE_HINT, mutant(_not_renormalised(G.top_k_filter), ("probs",))),
          KnownBug("Keep exactly k tokens: among tokens tied at the cut-off keep the first ones "
                   "(np.argsort(-probs, kind='stable')[:k]), not all of them.",
                   mutant(lambda probs, k: _keep_ties(probs, k), ("probs",)))),
    integration=lambda fn: generation_rung("top_k_filter", fn))


def _keep_ties(probs, k):
    cutoff = np.sort(probs)[-k]
    kept = np.where(probs >= cutoff, probs, 0.0)
    return kept / kept.sum()


TOP_P_FILTER = Spec(
    "top_p_filter", _cases(TOP_P_CASES), outputs=("probs",),
    bugs=(KnownBug("Top-p keeps the token that crosses p: sorted by probability, keep tokens up to "
                   "and including the first one where the running sum reaches p. Without it the "
                   "kept mass is below p (and nothing is left when p is below the top probability).",
                   mutant(_sorted_mass_below, ("probs",))),
          KnownBug("Sort by probability (descending) before the running sum: the nucleus is the most "
                   "likely tokens, not the first ones in the vocabulary.",
                   mutant(_unsorted_nucleus, ("probs",))),
          KnownBug(RENORMALISE_HINT, mutant(_not_renormalised(G.top_p_filter), ("probs",)))),
    integration=lambda fn: generation_rung("top_p_filter", fn))

SAMPLE_CASES = [(f"seed {seed}" + (", a one-hot" if seed == 4 else ""),
                 (lambda seed=seed: dict(probs=(np.eye(7)[3] if seed == 4 else _PROBS.copy()),
                                         rng=np.random.default_rng(seed))))
                for seed in range(5)]


def _other_draws(case, got, want):
    token = got.get("token")
    return isinstance(token, (int, np.integer)) and 0 <= int(token) < 7 and int(token) != want["token"]


SAMPLE_FROM = Spec(
    "sample_from", _cases(SAMPLE_CASES), outputs=("token",),
    call=lambda fn, inputs: {"token": _as_int(fn(*inputs.values()))},
    bugs=(KnownBug("Draw by the inverse CDF with exactly one rng.random(): u = rng.random() * "
                   "cdf[-1], then the first i with cdf[i] > u (np.searchsorted(cdf, u, "
                   "side='right')). Then a seed gives the library's samples.", _other_draws),),
    integration=lambda fn: generation_rung("sample_from", fn))


def _as_int(value):
    return int(value) if isinstance(value, (int, np.integer)) or (
        hasattr(value, "ndim") and value.ndim == 0 and value.dtype.kind in "iu") else value


@lru_cache(maxsize=1)
def _trained_sentence_model():
    """A small model that has learned the two integration sentences (trained once), with their
    character tokenizer."""
    from ...nn import fast  # noqa: PLC0415
    from ..integration import adam_training, make_model  # noqa: PLC0415

    model = make_model(fast)
    adam_training(model, 150)
    return model.eval(), sentence_tokenizer()


def generation_rung(name: str, fn) -> Rung:
    """Text generated with the student's function equals the library's, for several seeds."""
    distribution = with_globals(G.next_token_distribution, **{name: fn})
    stream = with_globals(G.stream, next_token_distribution=distribution,
                          **({"sample_from": fn} if name == "sample_from" else {}))
    model, tokenizer = _trained_sentence_model()
    settings = [dict(temperature=0.0), dict(temperature=0.8, top_k=4), dict(temperature=1.2, top_p=0.9),
                dict(temperature=1.0, top_k=6, top_p=0.8)]
    problems = []
    for k, kw in enumerate(settings):
        mine = "".join(t.text for t in guarded(lambda: list(stream(model, tokenizer, "the ", 40, seed=k, **kw))))
        theirs = "".join(t.text for t in G.stream(model, tokenizer, "the ", 40, seed=k, **kw))
        if mine != theirs:
            problems.append(f"with {kw} and seed {k} the model writes {mine!r}, the library {theirs!r}")
    if problems:
        return Rung("integration", FAIL, f"generation with your {name}", problems[:3])
    greedy = "".join(t.text for t in G.stream(model, tokenizer, "the ", 40, temperature=0.0))
    return Rung("integration", PASS, f"a trained model samples the library's texts with your {name} "
                f"(greedy: 'the {greedy}')")


# ---------------------------------------------------------------------------------------------
# bpe
# ---------------------------------------------------------------------------------------------
TEXT = ("low lower lowest newest widest. the slower snow shows below the lower window; "
        "bananas and bandanas, nana's banana bread. aaaa aaa aa a! lowest, newest, widest.")


def _chunks(text=TEXT):
    return Counter(chunk.encode("utf-8") for chunk in B.pretokenize(text))


COUNT_PAIRS_CASES = [
    ("three words with frequencies", lambda: dict(words=[[1, 2, 3], [1, 2], [4]], freqs=[5, 2, 9])),
    ("a run of one id", lambda: dict(words=[[7, 7, 7, 7]], freqs=[3])),
    ("the chunks of a text", lambda: dict(words=[list(c) for c in _chunks()], freqs=list(_chunks().values()))),
]
MERGE_PAIR_CASES = [
    ("[1, 1, 1], merge (1, 1)", lambda: dict(ids=[1, 1, 1], pair=(1, 1), new_id=9)),
    ("the pair twice", lambda: dict(ids=[5, 6, 5, 6, 7], pair=(5, 6), new_id=300)),
    ("the pair at the end", lambda: dict(ids=[1, 2, 3], pair=(2, 3), new_id=260)),
    ("no occurrence", lambda: dict(ids=[4, 3, 4], pair=(3, 3), new_id=261)),
]
LEARN_CASES = [
    ("'low lower lowest newest widest', 5 merges",
     lambda: dict(chunk_counts=_chunks("low lower lowest newest widest"), num_merges=5, first_id=257)),
    ("a longer text, 40 merges", lambda: dict(chunk_counts=_chunks(), num_merges=40, first_id=257)),
    ("more merges than pairs", lambda: dict(chunk_counts=_chunks("ab ab"), num_merges=10, first_id=256)),
]


def _ranks():
    merges = B.learn_merges(_chunks(), 60, first_id=257)
    return {pair: 257 + k for k, pair in enumerate(merges)}


ENCODE_CASES = [(f"chunk {chunk!r}", (lambda chunk=chunk: dict(ids=list(chunk.encode("utf-8")), ranks=_ranks())))
                for chunk in (" lowest", " bandanas", "aaaa", " unseen", "x")]


def _ignoring_freqs(words, freqs):
    return B.count_pairs(words, [1] * len(words))


def _overlapping_merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
        else:
            out.append(ids[i])
        i += 1
    return out


def _ties_by_id(chunk_counts, num_merges, first_id):
    words, freqs, merges = [list(c) for c in chunk_counts], list(chunk_counts.values()), []
    for k in range(num_merges):
        counts = B.count_pairs(words, freqs)
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = [B.merge_pair(w, best, first_id + k) for w in words]
    return merges


def _leftmost_first(ids, ranks):
    while True:
        present = [k for k, pair in enumerate(zip(ids, ids[1:])) if pair in ranks]
        if not present:
            return ids
        k = present[0]
        ids = ids[:k] + [ranks[(ids[k], ids[k + 1])]] + ids[k + 2:]


COUNT_PAIRS = Spec(
    "count_pairs", _cases(COUNT_PAIRS_CASES), outputs=("counts",),
    call=lambda fn, inputs: {"counts": dict(guarded(fn, *inputs.values()))},
    bugs=(KnownBug("Weight each word by its frequency: a chunk that occurs 5 times adds 5 to each of "
                   "its pairs.", mutant(lambda words, freqs: {"counts": dict(_ignoring_freqs(words, freqs))},
                                        ("counts",))),),
    integration=lambda fn: tokenizer_rung("count_pairs", fn))

MERGE_PAIR = Spec(
    "merge_pair", _cases(MERGE_PAIR_CASES), outputs=("ids",),
    call=lambda fn, inputs: {"ids": list(guarded(fn, *inputs.values()))},
    bugs=(KnownBug("Occurrences do not overlap: after merging ids[i], ids[i+1], continue at i + 2 "
                   "(merge_pair([1, 1, 1], (1, 1), 9) is [9, 1]).",
                   mutant(lambda **kw: {"ids": _overlapping_merge(**kw)}, ("ids",))),),
    integration=lambda fn: tokenizer_rung("merge_pair", fn))

LEARN_MERGES = Spec(
    "learn_merges", _cases(LEARN_CASES), outputs=("merges",),
    call=lambda fn, inputs: {"merges": [tuple(m) for m in guarded(fn, *inputs.values())]},
    bugs=(KnownBug("Break ties by the bytes the two tokens spell, (token_bytes[left], "
                   "token_bytes[right]), before the ids: an id says when a token was made, not "
                   "what it spells.",
                   mutant(lambda **kw: {"merges": _ties_by_id(**kw)}, ("merges",))),),
    integration=lambda fn: tokenizer_rung("learn_merges", fn))

ENCODE_CHUNK = Spec(
    "encode_chunk", _cases(ENCODE_CASES), outputs=("ids",),
    call=lambda fn, inputs: {"ids": list(guarded(fn, *inputs.values()))},
    bugs=(KnownBug("Merge the pair with the lowest rank first, wherever it is, not the leftmost "
                   "mergeable pair: encoding must replay the merges in the order training learned "
                   "them.", mutant(lambda **kw: {"ids": _leftmost_first(**kw)}, ("ids",))),),
    integration=lambda fn: tokenizer_rung("encode_chunk", fn))


def tokenizer_rung(name: str, fn) -> Rung:
    """A BPE tokenizer built with the student's function: the library's merges and encodings,
    and an exact round trip."""
    text = TEXT * 3 + " an unseen word: zyzzyva, and emoji \U0001f9ec"
    library = B.BPETokenizer(vocab_size=320).fit(TEXT)
    first = 256 + len(library.special_tokens)
    if name in ("count_pairs", "merge_pair", "learn_merges"):
        learn = fn if name == "learn_merges" else with_globals(B.learn_merges, **{name: fn})
        merges = [tuple(m) for m in guarded(learn, _chunks(), 320 - first, first)]
        if merges != library.merges:
            k = next((k for k, (a, b) in enumerate(zip(merges, library.merges)) if a != b),
                     min(len(merges), len(library.merges)))
            return Rung("integration", FAIL, f"training a tokenizer with your {name}",
                        [f"merge {k} differs from the library's ({len(merges)} merges learned, "
                         f"{len(library.merges)} expected)"])
        tokenizer = B.BPETokenizer(vocab_size=320)
        tokenizer._set_merges(merges)
    else:
        tokenizer = B.BPETokenizer(vocab_size=320)
        tokenizer._set_merges(library.merges)
        tokenizer._encode_chunk = lambda chunk: list(guarded(fn, list(chunk.encode("utf-8")), tokenizer._ranks))
    ids = tokenizer.encode(text)
    if ids != library.encode(text):
        return Rung("integration", FAIL, f"a tokenizer with your {name}",
                    ["its encoding of a text differs from the library's"])
    if tokenizer.decode(ids) != text:
        return Rung("integration", FAIL, f"a tokenizer with your {name}", ["decode(encode(text)) != text"])
    return Rung("integration", PASS, f"a tokenizer with your {name} learns the library's "
                f"{len(library.merges)} merges, encodes like it ({len(ids)} tokens for {len(text)} "
                "characters) and round-trips")


SPECS = {s.name: s for s in (TEMPERATURE_SOFTMAX, TOP_K_FILTER, TOP_P_FILTER, SAMPLE_FROM,
                             COUNT_PAIRS, MERGE_PAIR, LEARN_MERGES, ENCODE_CHUNK)}
