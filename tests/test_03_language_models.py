"""Lesson 3 exercises: bigram counts, cross-entropy, perplexity, smoothing, bits per character and
sampling (worked solutions of lessons/03_what_is_a_language_model.ipynb)."""
import math

import numpy
import pytest

from scratchlstm.data import prepare_data
from scratchlstm.nn.functional import softmax_cross_entropy
from scratchlstm.solutions import bigram_counts, bigram_cross_entropy
from scratchlstm.text import CharTokenizer, WordTokenizer


@pytest.fixture(scope="module")
def covid_chars():
    """Character ids of the COVID corpus (tokenizer fitted on train) and their bigram counts."""
    tok = CharTokenizer()
    ids, chars = prepare_data("covid", tok)
    return tok, ids, chars, bigram_counts(ids["train"], tok.vocab_size)


def test_exercise_3_1_perplexity_anchors(rng):
    """Exercise 3.1: equal logits over V = 37 tokens give cross-entropy log 37 and perplexity 37
    for any targets; probability 1/2 on every correct token gives perplexity 2; certainty and
    being right gives perplexity 1.

    Why: perplexity is exp(mean of -log p(correct)). Equal logits mean p = 1/37 for every token,
    so each term is log 37. With p = 1/2 each term is log 2 and exp(log 2) = 2. With p -> 1
    each term -> 0 and exp(0) = 1. (Logits [0, 0] give 1/2 to each of two tokens; a logit gap
    of 50 makes the other token's probability e^-50, negligible.)
    """
    targets = rng.integers(0, 37, size=(6, 4))
    loss, _ = softmax_cross_entropy(numpy.zeros((6, 4, 37)), targets)
    assert math.isclose(float(loss), math.log(37), rel_tol=1e-12)
    assert math.isclose(math.exp(float(loss)), 37, rel_tol=1e-12)

    half, _ = softmax_cross_entropy(numpy.zeros((10, 2)), rng.integers(0, 2, size=10))
    assert math.isclose(math.exp(float(half)), 2.0, rel_tol=1e-12)

    logits = numpy.zeros((10, 2))
    right = rng.integers(0, 2, size=10)
    logits[numpy.arange(10), right] = 50.0
    sure, _ = softmax_cross_entropy(logits, right)
    assert math.isclose(math.exp(float(sure)), 1.0, rel_tol=1e-12)


def test_exercise_3_2_bigram_counts_by_hand():
    """Exercise 3.2: the bigrams of "abba" are ab, bb, ba. So P(b|a) = 1, P(b|b) = P(a|b) = 1/2.
    The three predictions have probabilities 1, 1/2, 1/2: cross-entropy (0 + 2 log 2) / 3 nats,
    perplexity 2^(2/3) ~ 1.587.

    ``np.add.at`` over the pairs and ``np.bincount`` over the flat index a*V + b must agree;
    the CharTokenizer gives <unk> id 0, 'a' id 1, 'b' id 2 (code-point order).
    """
    tok = CharTokenizer().fit("abba")
    ids = numpy.array(tok.encode("abba"))
    assert ids.tolist() == [1, 2, 2, 1]
    V = tok.vocab_size
    N = bigram_counts(ids, V)
    assert numpy.array_equal(N, numpy.bincount(ids[:-1] * V + ids[1:], minlength=V * V).reshape(V, V))
    assert (N[1, 2], N[2, 2], N[2, 1], N.sum()) == (1, 1, 1, 3)
    P = N / numpy.maximum(N.sum(axis=1, keepdims=True), 1)
    assert (P[1, 2], P[2, 2], P[2, 1]) == (1.0, 0.5, 0.5)
    ce = bigram_cross_entropy(P, ids)
    assert math.isclose(ce, 2 * math.log(2) / 3, rel_tol=1e-12)
    assert math.isclose(math.exp(ce), 2 ** (2 / 3), rel_tol=1e-12)


def test_exercise_3_3_add_one_smoothing(covid_chars):
    """Exercise 3.3: the add-one bigram model has rows summing to 1, gives an unseen pair (a, b)
    probability 1 / (N(a) + V), has a uniform <unk> row, a finite validation cross-entropy, and a
    training cross-entropy no lower than the unsmoothed model's.

    Why: row a of (N + 1) sums to N(a) + V, the denominator. An unseen pair has count 0 + 1.
    <unk> never occurs in training (N(unk) = 0), so its row is 1/V everywhere. No probability is 0,
    so no log is -inf. The unsmoothed counts are the maximum-likelihood bigram model of the
    training text: no other bigram model, smoothed ones included, gives it higher probability.
    """
    tok, ids, _, N = covid_chars
    V = tok.vocab_size
    totals = N.sum(axis=1)
    P1 = (N + 1.0) / (totals[:, None] + V)
    assert numpy.allclose(P1.sum(axis=1), 1.0)
    a, b = map(int, numpy.argwhere((N == 0) & (totals[:, None] > 0))[0])
    assert math.isclose(P1[a, b], 1.0 / (totals[a] + V), rel_tol=1e-12)
    assert numpy.allclose(P1[tok.unk_id], 1.0 / V)
    assert math.isfinite(bigram_cross_entropy(P1, ids["valid"]))
    P_mle = N / numpy.maximum(totals[:, None], 1)
    assert math.isinf(bigram_cross_entropy(P_mle, ids["valid"]))
    assert bigram_cross_entropy(P1, ids["train"]) >= bigram_cross_entropy(P_mle, ids["train"])


def test_exercise_3_4_bits_per_character_two_ways(covid_chars):
    """Exercise 3.4: for the add-one word unigram model, N_tokens * L / (N_chars ln 2) equals
    sum(-log2 p) / N_chars and N_tokens * log2(PPL) / N_chars; the uniform character model has
    bpc = log2 V.

    Why: N * L is the total surprise in nats, and dividing nats by ln 2 gives bits
    (log2 x = ln x / ln 2). log2(PPL) = log2(e^L) = L / ln 2. For the uniform character model
    every prediction costs log V nats and there is one token per character, so bpc = log V / ln 2
    = log2 V.
    """
    char_tok, char_ids, _, _ = covid_chars
    tok = WordTokenizer(min_freq=2, add_eos=True)
    ids, chars = prepare_data("covid", tok)
    counts = numpy.bincount(ids["train"], minlength=tok.vocab_size) + 1.0
    p = (counts / counts.sum())[ids["valid"]]
    n_tok, n_chr = ids["valid"].size, chars["valid"]
    L = float(-numpy.log(p).mean())
    bpc = n_tok * L / (n_chr * math.log(2))
    assert math.isclose(bpc, float(-numpy.log2(p).sum()) / n_chr, rel_tol=1e-9)
    assert math.isclose(bpc, n_tok * math.log2(math.exp(L)) / n_chr, rel_tol=1e-9)
    assert 0 < bpc < 8                         # far below one byte per character

    V = char_tok.vocab_size
    uniform = numpy.full((V, V), 1.0 / V)
    ce = bigram_cross_entropy(uniform, char_ids["valid"])
    assert math.isclose(ce / math.log(2), math.log2(V), rel_tol=1e-12)


def test_exercise_3_5_sampling_reproduces_the_bigram_matrix():
    """Exercise 3.5: sample 30,000 tokens from a 3-token bigram model by inverse CDF; the bigram
    matrix estimated from the sample is within 0.02 of the true one in every entry.

    Why: inverse-CDF sampling picks token b with probability equal to the width of its step in
    the cumulative sum, P[a, b]. Each row is visited about 10,000 times, so each estimated
    probability has a standard deviation of about sqrt(0.25 / 10,000) = 0.005: 0.02 is four
    standard deviations, and the seed makes the test deterministic.
    """
    P = numpy.array([[0.1, 0.6, 0.3],
                     [0.5, 0.2, 0.3],
                     [0.3, 0.3, 0.4]])
    rng = numpy.random.default_rng(0)
    cdf = numpy.cumsum(P, axis=1)
    a, out = 0, [0]
    for u in rng.random(30_000):
        a = int(numpy.searchsorted(cdf[a], u * cdf[a, -1], side="right"))
        out.append(a)
    N = bigram_counts(numpy.array(out), 3)
    estimate = N / N.sum(axis=1, keepdims=True)
    assert numpy.abs(estimate - P).max() < 0.02
    assert N.sum(axis=1).min() > 8000          # every row was visited often
