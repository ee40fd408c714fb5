"""Lesson 2 exercises: vocabularies, <unk> and min_freq, BPE merges by hand, byte fallback and the
vocabulary-size / sequence-length trade-off (worked solutions of lessons/02_text_to_numbers.ipynb)."""
from collections import Counter

import numpy
import pytest

from scratchlstm.text import BPETokenizer, CharTokenizer, Vocab, WordTokenizer, basic_english
from scratchlstm.text import load_corpus, pretokenize

SLICE = 300_000


@pytest.fixture(scope="module")
def covid():
    """The lesson's data: the first 300,000 characters of the training split, and the validation
    split."""
    splits = load_corpus("covid")
    return splits["train"][:SLICE], splits["valid"]


def test_exercise_2_1_vocab_from_counts_by_hand():
    """Exercise 2.1: ``Vocab.from_counts`` on the words of "the cat sat on the mat and the cat ran"
    with ``min_freq=2``: which ids, and what does "the dog" encode to? What does ``max_size=3``
    keep?

    Counts: the 3, cat 2, every other word 1. Special tokens take ids 0 (<unk>) and 1 (<eos>);
    with ``min_freq=2`` only "the" (id 2) and "cat" (id 3) remain, by descending count. "dog" is
    unknown, so "the dog" is [2, 0]. ``max_size`` counts the special tokens, so 3 ids leave room for
    one word, the most frequent. Without a cut-off the count-1 words follow in alphabetical order.
    """
    words = "the cat sat on the mat and the cat ran".split()
    vocab = Vocab.from_counts(words, min_freq=2)
    assert vocab.itos == ["<unk>", "<eos>", "the", "cat"]
    assert vocab.lookup_ids("the dog".split()) == [2, 0]
    assert Vocab.from_counts(words, max_size=3).itos == ["<unk>", "<eos>", "the"]
    assert Vocab.from_counts(words).itos[4:] == ["and", "mat", "on", "ran", "sat"]


def test_exercise_2_2_unk_rate_grows_with_min_freq(covid):
    """Exercise 2.2: the fraction of validation tokens that become <unk> never decreases as
    ``min_freq`` grows, and for ``min_freq=1`` it equals the share of validation words never seen
    in the training slice.

    Why: raising ``min_freq`` only removes words from the vocabulary, so every token that was
    <unk> stays <unk>. With ``min_freq=1`` the vocabulary is exactly the set of training words, so
    <unk> marks exactly the unseen ones; ``basic_english`` is the tokenizer's own splitting rule,
    so the direct count must agree to the last token.
    """
    train, valid = covid
    rates, sizes = [], []
    for k in (1, 2, 3, 5):
        tok = WordTokenizer(min_freq=k).fit(train)
        ids = numpy.array(tok.encode(valid))
        rates.append(float(numpy.mean(ids == tok.unk_id)))
        sizes.append(tok.vocab_size)
    assert all(a <= b for a, b in zip(rates, rates[1:]))
    assert all(a > b for a, b in zip(sizes, sizes[1:]))
    seen = set(basic_english(train))
    valid_words = basic_english(valid)
    unseen = sum(w not in seen for w in valid_words) / len(valid_words)
    assert rates[0] == pytest.approx(unseen, abs=1e-12)
    assert 0 < rates[0] < rates[-1]


def first_merge(learn_merges, text):
    """The first BPE merge of ``text``: its chunks' bytes with their counts, one merge."""
    chunks = Counter(chunk.encode("utf-8") for chunk in pretokenize(text))
    return tuple(learn_merges(chunks, 1, first_id=257)[0])


def test_exercise_2_3_first_bpe_merges_by_hand(impl, covid):
    """Exercise 2.3: the first merge computed from scratch matches the library, on a pencil-and-
    paper example and on the corpus; and the first three merges of "low lower lowest" are
    'lo', 'low', ' low'.

    By hand: the chunks are "low", " lower", " lowest". Pair counts: l-o 3, o-w 3, space-l 2,
    w-e 2, then 1s. l-o and o-w tie at 3 and (b"l", b"o") < (b"o", b"w"), so "lo" comes first.
    After it, "lo"+"w" occurs 3 times: "low". Then " "+"low" and "low"+"e" both occur twice;
    b" " sorts before b"low", so the third merge is " low".
    """
    assert first_merge(impl.learn_merges, "low lower lowest") == (ord("l"), ord("o"))
    tok = BPETokenizer(vocab_size=257 + 3).fit("low lower lowest")
    assert [tok.decode([257 + k]) for k in range(3)] == ["lo", "low", " low"]

    train, _ = covid
    library = BPETokenizer(vocab_size=258).fit(train)
    assert library.merges == [first_merge(impl.learn_merges, train)]


def test_exercise_2_4_no_merges_means_bytes(covid):
    """Exercise 2.4: a BPE with no merges (vocab_size=257: bytes and <eos>) encodes any string to
    exactly its UTF-8 bytes; the round trip is exact; a trained BPE never needs more tokens than
    there are bytes.

    Why: ids 0..255 are the byte values themselves. Every merge replaces two tokens by one, so
    merging can only shorten a sequence, and decoding joins the bytes of the tokens, so nothing
    is lost either way.
    """
    s = "Stay safe 😷 — 新冠病毒, naïve café!"
    raw = BPETokenizer(vocab_size=257).fit("")
    assert raw.vocab_size == 257
    assert raw.encode(s) == list(s.encode("utf-8"))
    assert raw.decode(raw.encode(s)) == s
    train, valid = covid
    trained = BPETokenizer(vocab_size=600).fit(train)
    for text in (s, valid[:5000]):
        ids = trained.encode(text)
        assert trained.decode(ids) == text
        assert len(ids) <= len(text.encode("utf-8"))
    assert len(trained.encode(valid[:5000])) < len(valid[:5000].encode("utf-8"))


def test_exercise_2_5_bigger_bpe_vocabulary_shorter_sequences(covid):
    """Exercise 2.5: characters per token on the validation text increase with the BPE vocabulary
    size (300, 600, 1200), starting above the character tokenizer's 1.0.

    Why: training is deterministic and greedy, so the 600-token BPE learns the 300-token BPE's
    43 merges first, then 300 more. Encoding applies merges in the order learned, so the bigger
    tokenizer reproduces the smaller one's segmentation and then keeps merging, and a merge can
    only join two tokens into one: never more tokens. The measured ratio rises strictly because
    the extra merges are frequent pairs of the text. Above 1.0: even 43 merges fuse common pairs
    such as ' t' into single tokens.
    """
    train, valid = covid
    char = CharTokenizer().fit(train)
    assert len(valid) / len(char.encode(valid)) == 1.0
    ratios = []
    for size in (300, 600, 1200):
        tok = BPETokenizer(vocab_size=size).fit(train)
        ratios.append(len(valid) / len(tok.encode(valid)))
    assert 1.0 < ratios[0] < ratios[1] < ratios[2]
