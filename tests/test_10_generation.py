"""Lesson 10 exercises: sampling with temperature, top-k and top-p; streaming; prompts."""
import numpy
import pytest

from scratchlstm import LSTMLanguageModel
from scratchlstm.generation import generate, next_token_distribution, sample_from, stream
from scratchlstm.text import BPETokenizer, CharTokenizer, WordTokenizer

LOGITS = numpy.log(numpy.array([0.5, 0.2, 0.15, 0.1, 0.05]))


def test_temperature_zero_is_greedy():
    """At temperature 0 all probability sits on the arg-max token."""
    assert next_token_distribution(LOGITS, 0.0).tolist() == [1, 0, 0, 0, 0]


def test_temperature_one_recovers_the_model_distribution():
    """softmax(log p / 1) = p: temperature 1 samples from the model as it is."""
    assert numpy.allclose(next_token_distribution(LOGITS, 1.0), [0.5, 0.2, 0.15, 0.1, 0.05])


def test_temperature_sharpens_and_flattens():
    """tau = 0.5 squares the probabilities (renormalised); tau = 100 is nearly uniform."""
    p = numpy.array([0.5, 0.2, 0.15, 0.1, 0.05])
    assert numpy.allclose(next_token_distribution(LOGITS, 0.5), p ** 2 / (p ** 2).sum())
    assert numpy.allclose(next_token_distribution(LOGITS, 100.0), 0.2, atol=0.01)


def test_top_k_keeps_the_k_most_likely():
    """top_k=2 keeps 0.5 and 0.2, renormalised to 5/7 and 2/7; top_k=1 is greedy."""
    assert numpy.allclose(next_token_distribution(LOGITS, 1.0, top_k=2), [5 / 7, 2 / 7, 0, 0, 0])
    assert next_token_distribution(LOGITS, 1.0, top_k=1).tolist() == [1, 0, 0, 0, 0]


def test_top_p_keeps_the_smallest_nucleus():
    """top_p=0.8: 0.5 + 0.2 = 0.7 < 0.8, adding 0.15 reaches 0.85 >= 0.8, so three tokens stay."""
    probs = next_token_distribution(LOGITS, 1.0, top_p=0.8)
    assert numpy.allclose(probs, [0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0, 0])


def test_sampling_frequencies_follow_the_probabilities():
    """Inverse-CDF sampling: 20,000 draws match the probabilities to within 1%."""
    rng = numpy.random.default_rng(0)
    p = numpy.array([0.5, 0.2, 0.15, 0.1, 0.05])
    counts = numpy.bincount([sample_from(p, rng) for _ in range(20000)], minlength=5)
    assert numpy.allclose(counts / 20000, p, atol=0.01)


def test_bad_sampling_arguments():
    """Negative temperature, top_k=0 and top_p outside (0, 1] are refused by name."""
    for kwargs, name in ((dict(temperature=-1), "temperature"), (dict(top_k=0), "top_k"),
                         (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p")):
        with pytest.raises(ValueError, match=name):
            next_token_distribution(LOGITS, **{"temperature": 1.0, **kwargs})


@pytest.fixture(scope="module")
def char_model():
    text = "hello world, hello there. " * 20
    tok = CharTokenizer().fit(text)
    return LSTMLanguageModel(tok.vocab_size, 8, 16, 1, seed=3), tok


def test_generation_is_deterministic_for_a_seed(char_model):
    """The same seed gives the same text; another seed (almost surely) another text."""
    model, tok = char_model
    a = generate(model, tok, "hello", 40, temperature=1.0, seed=5)
    b = generate(model, tok, "hello", 40, temperature=1.0, seed=5)
    c = generate(model, tok, "hello", 40, temperature=1.0, seed=6)
    assert a == b and a != c and len(a) == 40


def test_top_k_one_equals_greedy(char_model):
    """top_k=1 at any temperature picks the arg-max every time, like temperature 0."""
    model, tok = char_model
    assert generate(model, tok, "he", 30, temperature=1.5, top_k=1, seed=1) == \
        generate(model, tok, "he", 30, temperature=0.0, seed=2)


def test_stream_yields_tokens_that_join_to_the_text(char_model):
    """stream() yields one token at a time, with probability and top candidates."""
    model, tok = char_model
    pieces = list(stream(model, tok, "hello", 10, seed=0, num_candidates=3))
    assert len(pieces) == 10
    assert "".join(p.text for p in pieces) == generate(model, tok, "hello", 10, seed=0)
    assert all(len(p.candidates) == 3 and 0 < p.prob <= 1 for p in pieces)
    first = pieces[0].candidates
    assert first[0][1] >= first[1][1] >= first[2][1]


def test_empty_prompt_and_zero_tokens(char_model):
    """An empty prompt still generates; max_new_tokens=0 generates nothing."""
    model, tok = char_model
    assert len(generate(model, tok, "", 5, seed=0)) == 5
    assert generate(model, tok, "hello", 0) == ""


def test_an_empty_prompt_starts_from_what_the_model_saw_at_line_ends():
    """With no prompt, generation is fed the token of a line end, which the training stream held
    at every line: <eos> for a word tokenizer, byte 10 for BPE without add_eos (where <eos> never
    occurs in training, so starting from it starts from an untrained state), <eos> with add_eos,
    and the newline character at character level."""
    from scratchlstm.generation import _start_ids
    from scratchlstm.text import UnigramTokenizer

    text = "the cat sat\nthe dog sat\n" * 20
    word = WordTokenizer(add_eos=True).fit(text)
    bpe = BPETokenizer(vocab_size=270).fit(text)
    bpe_eos = BPETokenizer(vocab_size=270, add_eos=True).fit(text)
    char = CharTokenizer().fit(text)
    unigram = UnigramTokenizer(vocab_size=280).fit(text)
    assert _start_ids(word, "") == ([word.eos_id], 0)
    assert _start_ids(bpe, "") == ([10], 0) and 10 in bpe.encode_corpus(text)
    assert _start_ids(bpe_eos, "") == ([bpe_eos.eos_id], 0)
    assert _start_ids(char, "") == (char.encode("\n"), 0)
    start, _ = _start_ids(unigram, "")
    assert start[0] in unigram.encode_corpus(text) and start[0] != unigram.eos_id
    # a character vocabulary without a newline has no line-end token: token 0 then
    assert _start_ids(CharTokenizer().fit("abc"), "") == ([0], 0)


def test_stop_at_eos_with_a_word_model():
    """A word model whose decoder favours <eos> stops right after generating it."""
    tok = WordTokenizer(add_eos=True).fit("a b c\nb c a\n")
    model = LSTMLanguageModel(tok.vocab_size, 4, 4, seed=0)
    model.decoder.bias.data[tok.eos_id] = 50.0
    out = list(stream(model, tok, "a b", 20, temperature=1.0, seed=0, stop_at_eos=True))
    assert len(out) == 1 and out[0].id == tok.eos_id


def test_unknown_words_in_a_prompt():
    """Word level: an unseen word becomes <unk> and generation proceeds."""
    tok = WordTokenizer(add_eos=True).fit("the cat sat\nthe dog sat\n")
    model = LSTMLanguageModel(tok.vocab_size, 4, 4, seed=0)
    assert tok.encode("the zebra")[1] == tok.unk_id
    assert len(list(stream(model, tok, "the zebra", 5, seed=0))) == 5


def test_bpe_generation_is_lossless_text():
    """Byte-level BPE can continue any prompt, emoji included, and never emits broken UTF-8
    in the joined output."""
    tok = BPETokenizer(vocab_size=300).fit("the virus spreads; the vaccine helps. " * 30)
    model = LSTMLanguageModel(tok.vocab_size, 8, 8, seed=1)
    text = generate(model, tok, "vaccine 💉 works", 30, seed=4)
    assert isinstance(text, str)
    ids = tok.encode("vaccine 💉 works")
    assert tok.decode(ids) == "vaccine 💉 works"


# ---------------------------------------------------------------------------------------------
# Lesson 10 exercises (worked solutions)
# ---------------------------------------------------------------------------------------------
def entropy_bits(p):
    p = p[p > 0]
    return float(-(p * numpy.log2(p)).sum())


def test_exercise_10_1_entropy_rises_with_temperature():
    """Exercise 10.1: for z = ln(0.5, 0.2, 0.15, 0.1, 0.05), show that the entropy of
    next_token_distribution(z, tau) rises with tau, equals the entropy of the probabilities
    themselves at tau = 1, and approaches log2(5) as tau grows.

    Dividing the logits by a larger tau shrinks their differences, so the softmax moves towards
    uniform, the distribution of maximal entropy (log2 V bits); at tau = 1 softmax(ln p) = p.
    """
    p = numpy.array([0.5, 0.2, 0.15, 0.1, 0.05])
    taus = [0.25, 0.5, 1.0, 2.0, 4.0, 100.0]
    entropies = [entropy_bits(next_token_distribution(LOGITS, tau)) for tau in taus]
    assert all(a < b for a, b in zip(entropies, entropies[1:]))
    assert entropies[2] == pytest.approx(entropy_bits(p), abs=1e-12)
    assert entropies[2] == pytest.approx(1.9232, abs=1e-4)     # 0.5*1 + 0.2*2.32 + 0.15*2.74 + ...
    assert entropies[-1] == pytest.approx(numpy.log2(5), abs=1e-3)
    assert entropy_bits(next_token_distribution(LOGITS, 0.0)) == 0.0     # greedy: no uncertainty


def test_exercise_10_2_top_p_versus_top_k():
    """Exercise 10.2: for the same logits, which top_p values keep exactly the tokens of top_k=2,
    and which those of top_k=3?

    The sorted probabilities accumulate to 0.5, 0.7, 0.85, 0.95, 1. The nucleus is the shortest
    prefix whose mass reaches top_p, so 0.5 < top_p <= 0.7 keeps two tokens (= top_k=2) and
    0.7 < top_p <= 0.85 keeps three (= top_k=3). We test points inside the intervals: exactly at
    a boundary the answer depends on float round-off of the cumulative sum.
    """
    two = next_token_distribution(LOGITS, 1.0, top_k=2)
    three = next_token_distribution(LOGITS, 1.0, top_k=3)
    for top_p in (0.51, 0.6, 0.69):
        assert numpy.allclose(next_token_distribution(LOGITS, 1.0, top_p=top_p), two)
    for top_p in (0.71, 0.8, 0.84):
        assert numpy.allclose(next_token_distribution(LOGITS, 1.0, top_p=top_p), three)
    assert numpy.count_nonzero(next_token_distribution(LOGITS, 1.0, top_p=0.9)) == 4


def test_exercise_10_3_temperature_is_a_scaling_of_the_logits():
    """Exercise 10.3: show that next_token_distribution(z, tau) equals
    next_token_distribution(z / tau, 1), and that the most likely token never changes for tau > 0.

    softmax(z / tau) is by definition the softmax of the scaled logits; dividing by a positive
    number keeps the order of the logits, so the arg-max (the greedy choice) is the same at every
    temperature: temperature changes how much we trust the ranking, not the ranking.
    """
    z = numpy.random.default_rng(0).normal(size=30) * 3
    for tau in (0.3, 0.7, 1.0, 2.5):
        assert numpy.allclose(next_token_distribution(z, tau), next_token_distribution(z / tau, 1.0))
        assert numpy.argmax(next_token_distribution(z, tau)) == numpy.argmax(z)
        order = numpy.argsort(-z)
        assert numpy.all(numpy.diff(next_token_distribution(z, tau)[order]) <= 0)


def test_exercise_10_4_forget_bias_and_memory_half_life():
    """Exercise 10.4: compare the mean forget gate of untrained models with forget_bias=3.0 and
    with the default 0.0, read from activations(), and work out the memory half-life.

    At initialisation the embeddings (U(+-0.1)) and weights (U(+-1/sqrt(H))) are small, so the
    forget-gate pre-activation is the bias plus a little noise: f ~ sigma(0) = 0.5 or sigma(3) =
    0.9526. A constant f keeps f**n of the cell after n steps: half-life ln 0.5 / ln f = 1 step
    for f = 0.5, but about 14.3 steps for f = 0.9526, which is why a positive forget bias helps
    gradients (and memories) survive early in training.
    """
    import math

    ids = numpy.random.default_rng(0).integers(0, 50, (40, 8))
    means = {}
    for bias in (0.0, 3.0):
        model = LSTMLanguageModel(50, 16, 32, 1, forget_bias=bias, seed=0).eval()
        model(ids)
        acts = model.lstm.layers[0].activations()
        assert acts["f"].shape == (40, 8, 32)
        means[bias] = float(acts["f"].mean())
    assert abs(means[0.0] - 0.5) < 0.01
    assert abs(means[3.0] - 1 / (1 + math.exp(-3.0))) < 0.01
    half_life = {bias: math.log(0.5) / math.log(f) for bias, f in means.items()}
    assert half_life[0.0] == pytest.approx(1.0, abs=0.05)
    assert 14.0 < half_life[3.0] < 14.6


# ----------------------------------------------------------------------------------------------
# The workbook ladder (sampling.py): values, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('temperature_softmax', 'top_k_filter', 'top_p_filter', 'sample_from'))
def test_ladder(ladder, name):
    ladder(name)


# ------------------------------------------------------------------------------------------------
# Coloured text (lesson 10's picture of a unit): layout and colours
# ------------------------------------------------------------------------------------------------
def test_text_layout_wraps_rows_and_starts_a_row_at_each_newline():
    from scratchlstm.plots import text_layout

    cells = text_layout(["ab", "cd\ne", "fgh"], width=3)
    assert [(r, c, ch) for r, c, ch, _ in cells] == [(0, 0, "a"), (0, 1, "b"), (0, 2, "c"), (1, 0, "d"),
                                                     (2, 0, "e"), (2, 1, "f"), (2, 2, "g"), (3, 0, "h")]
    assert [k for *_, k in cells] == [0, 0, 1, 1, 1, 2, 2, 2]      # each character knows its token


def test_plot_text_activations_shades_each_character_by_its_tokens_value():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.patches import Rectangle

    from scratchlstm.plots import plot_text_activations

    fig = plot_text_activations([" hot", " cold"], numpy.array([2.0, -2.0]), width=20)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    assert len(boxes) == 9                                   # one per character, spaces included
    reds = [b.get_facecolor()[0] - b.get_facecolor()[2] for b in boxes]
    assert all(r > 0.2 for r in reds[:4]) and all(r < -0.2 for r in reds[4:])   # red positive, blue negative
    assert [t.get_text() for t in fig.axes[0].texts] == list("hotcold")
    with pytest.raises(ValueError, match="one value per token"):
        plot_text_activations(["a", "b"], numpy.zeros(3))
