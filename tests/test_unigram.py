"""The unigram language-model tokenizer: lattice algorithms checked by brute force, EM that never
lowers the likelihood, lossless round trips with byte fallback, and persistence."""
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchlstm.text import UnigramTokenizer, load_corpus, tokenizer_from_dict
from scratchlstm.text.unigram import expected_counts, viterbi

LOGP = {"a": math.log(0.3), "b": math.log(0.2), "ab": math.log(0.25), "ba": math.log(0.1),
        "aba": math.log(0.05), "c": math.log(0.1)}


def segmentations(text, pieces):
    """Every way to cut ``text`` into pieces (brute force, for short texts)."""
    if not text:
        yield []
        return
    for k in range(1, len(text) + 1):
        if text[:k] in pieces:
            for rest in segmentations(text[k:], pieces):
                yield [text[:k]] + rest


@pytest.mark.parametrize("text", ["abab", "ababa", "cabac", "a", "bb"])
def test_viterbi_finds_the_most_probable_segmentation(text):
    best = max(segmentations(text, LOGP), key=lambda seg: sum(LOGP[p] for p in seg))
    spans = viterbi(text, LOGP, max_length=3)
    assert [text[s:e] for s, e in spans] == best


@pytest.mark.parametrize("text", ["abab", "ababa", "cabac"])
def test_expected_counts_are_the_posterior_average_over_all_segmentations(text):
    """Forward-backward equals enumerating every segmentation, weighting each by its probability."""
    segs = list(segmentations(text, LOGP))
    weights = [math.exp(sum(LOGP[p] for p in seg)) for seg in segs]
    Z = sum(weights)
    brute = {}
    for seg, w in zip(segs, weights):
        for p in seg:
            brute[p] = brute.get(p, 0.0) + 3 * w / Z          # the chunk occurs 3 times
    counts, likelihood = expected_counts({text: 3}, LOGP, max_length=3)
    assert set(counts) == set(brute)
    assert all(math.isclose(counts[p], brute[p], rel_tol=1e-12) for p in brute)
    assert math.isclose(likelihood, 3 * math.log(Z), rel_tol=1e-12)


def test_em_never_lowers_the_likelihood_and_reaches_the_vocabulary_size():
    text = load_corpus("covid")["train"][:60_000]
    tok = UnigramTokenizer(vocab_size=600, em_iterations=2).fit(text)
    assert tok.vocab_size == 600
    log = tok.training_log
    assert log[0]["pieces"] > log[-1]["pieces"] and len({row["round"] for row in log}) > 2
    # within a pruning round each EM iteration raises the corpus likelihood
    for (a, b) in zip(log, log[1:]):
        if a["round"] == b["round"]:
            assert b["log_likelihood"] >= a["log_likelihood"] - 1e-6 * abs(a["log_likelihood"])
    assert all(math.isfinite(row["log_likelihood"]) for row in log)
    assert all(len(p) <= tok.max_piece_length for p in tok.pieces)


@pytest.fixture(scope="module")
def fitted():
    return UnigramTokenizer(vocab_size=500).fit(load_corpus("covid")["train"][:40_000])


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=200))
def test_round_trip_on_any_text(fitted, text):
    """Byte fallback: characters no piece covers become their UTF-8 bytes; nothing is lost."""
    assert fitted.decode(fitted.encode(text)) == text


def test_byte_fallback_and_special_tokens(fitted):
    ids = fitted.encode("新")
    assert ids == list("新".encode("utf-8")) and all(i < 256 for i in ids)
    assert fitted.encode("a<eos>b")[1] == fitted.eos_id


def test_save_and_load_give_the_same_tokenizer(fitted, tmp_path):
    path = tmp_path / "unigram.json"
    fitted.save(path)
    again = tokenizer_from_dict(fitted.to_dict())
    text = "The vaccine trial enrolled 30,000 volunteers."
    assert again.encode(text) == fitted.encode(text) and again.kind == "unigram"
    assert UnigramTokenizer.load(path).pieces == fitted.pieces


def test_a_vocabulary_smaller_than_the_alphabet_still_round_trips():
    tok = UnigramTokenizer(vocab_size=260).fit("abcdefghij " * 20)
    assert tok.vocab_size == 260
    assert tok.decode(tok.encode("hij abc")) == "hij abc"


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="shrink"):
        UnigramTokenizer(shrink=1.5)
    with pytest.raises(ValueError, match="vocab_size"):
        UnigramTokenizer(vocab_size=10)
    with pytest.raises(ValueError, match="distinct non-empty"):
        UnigramTokenizer(vocab_size=300)._set_pieces(["a", "a"], [0.0, 0.0])


def test_pieces_are_ordered_most_probable_first(fitted):
    assert fitted.log_probs == sorted(fitted.log_probs, reverse=True)
    assert list(itertools.islice(fitted.pieces, 3))       # e.g. '.', ' the', ...
