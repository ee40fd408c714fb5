"""Lesson 2, "Text to numbers": vocabularies, tokenizers, corpora and batching as worked exercises.

Each test states the question it answers and why the expected value is right. Tests that need the
benchmark corpora read them from ``$SCRATCHLSTM_DATA`` or ``../shared/data`` (beside the repository)
and are skipped, with the reason, when the files are not there.
"""
from __future__ import annotations

import ast
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratchlstm.text import (CORPORA, BPETokenizer, CharTokenizer, CorpusSpec, Tokenizer, Vocab,
                              WordTokenizer, basic_english, batchify, bptt_windows, detokenize,
                              download_file, load_corpus, load_splits, load_text, load_tokenizer,
                              merge_pair, num_windows, pretokenize, resolve_data_dir, sha256_of,
                              split_text, tokenizer_from_dict, validate_ids)
from scratchlstm.text.bpe import learn_merges

REPO = Path(__file__).resolve().parents[1]

SAMPLE = """The quick brown fox jumps over the lazy dog. The dog didn't care!
It's 3.5 times faster, isn't it? Well-known facts: 1,000 foxes (roughly) agree.

A second paragraph: newer, lower, lowest, newest, widest. Émile's café serves crêpes.
"""


def fitted(kind: str) -> Tokenizer:
    """A small fitted tokenizer of each kind, on SAMPLE."""
    if kind == "char":
        return CharTokenizer().fit(SAMPLE)
    if kind == "word":
        return WordTokenizer(mode="cased", add_eos=True).fit(SAMPLE)
    return BPETokenizer(vocab_size=300).fit(SAMPLE)


KINDS = ["char", "word", "bpe"]
UNFITTED = {"char": CharTokenizer, "word": WordTokenizer, "bpe": BPETokenizer}


# =============================================================================== Vocab
def test_vocab_specials_first_and_unknowns_map_to_unk():
    """Where do special tokens go, and what id does an unknown token get?

    Specials take the first ids in the order given (<unk>=0, <eos>=1), ordinary tokens follow in
    the order given, and any token not in the vocabulary is looked up as <unk>'s id, 0.
    """
    v = Vocab(["cat", "dog"])
    assert v.itos == ["<unk>", "<eos>", "cat", "dog"]
    assert len(v) == 4 and "cat" in v and "cow" not in v
    assert v.lookup("dog") == 3 and v.lookup("cow") == v.unk_id == 0
    assert v.lookup_ids(["cat", "cow", "<eos>"]) == [2, 0, 1]
    assert v.lookup_tokens([3, 2, 0]) == ["dog", "cat", "<unk>"]


def test_vocab_min_freq_cutoff_and_deterministic_ties():
    """Which tokens survive min_freq=2, and in which order?

    Counts: c=3, a=2, b=2, d=1. d is below the cut-off. Order is descending count, and the tie
    between a and b (both 2) is broken by the token string, so a comes before b, whatever order
    the counts were inserted in.
    """
    for counts in ({"b": 2, "d": 1, "a": 2, "c": 3}, {"c": 3, "a": 2, "b": 2, "d": 1}):
        v = Vocab.from_counts(counts, min_freq=2)
        assert v.itos == ["<unk>", "<eos>", "c", "a", "b"]


def test_vocab_max_size_includes_specials():
    """What does max_size=4 keep from counts c=3, a=2, b=2?

    max_size is the total size the model sees, specials included: 2 specials + the 2 most
    frequent tokens (c, then a, which wins its tie with b alphabetically).
    """
    v = Vocab.from_counts(["c", "c", "c", "a", "a", "b", "b"], max_size=4)
    assert v.itos == ["<unk>", "<eos>", "c", "a"]
    assert v.lookup("b") == v.unk_id
    with pytest.raises(ValueError, match="max_size"):
        Vocab.from_counts({"a": 1}, max_size=1)          # cannot even hold the 2 specials


def test_vocab_literal_unk_in_a_corpus_is_the_unk_id():
    """WikiText and PTB already contain the literal word '<unk>'. Does it get a second id?

    No: special tokens are skipped when counting, so '<unk>' keeps id 0 and the vocabulary has
    exactly the specials plus the two real words.
    """
    v = Vocab.from_counts("the <unk> sat on the <unk>".split())
    assert v.itos == ["<unk>", "<eos>", "the", "on", "sat"]
    assert v.lookup("<unk>") == 0


def test_vocab_lookup_tokens_out_of_range_names_id_and_size():
    """What happens when asked for the token of id 7 in a vocabulary of size 3?

    A ValueError that says which id, where, and the vocabulary size, instead of an IndexError
    (or, on a GPU, silently reading garbage).
    """
    v = Vocab(["a"])
    with pytest.raises(ValueError, match=r"token id 7 at position 1 .*vocab_size 3"):
        v.lookup_tokens([0, 7])
    with pytest.raises(ValueError, match="token id -1"):
        v.lookup_tokens([-1])


def test_vocab_json_round_trip(tmp_path):
    """Does a vocabulary with awkward tokens (quotes, newline, emoji) survive save/load?

    JSON escapes them, so the loaded vocabulary is equal, id for id, and the file is plain JSON.
    """
    v = Vocab(['"', "\n", "🦊", "naïve"], specials=("<unk>", "<pad>", "<bos>", "<eos>"))
    v.save(tmp_path / "vocab.json")
    w = Vocab.load(tmp_path / "vocab.json")
    assert w == v and w.itos[4:] == ['"', "\n", "🦊", "naïve"]
    assert json.loads((tmp_path / "vocab.json").read_text())["specials"][1] == "<pad>"


# =============================================================================== char
def test_char_tokenizer_ids_by_code_point():
    """What ids does CharTokenizer give 'hole' after fitting on 'hello'?

    The alphabet of 'hello' sorted by code point is e, h, l, o; <unk> is id 0, so e=1, h=2, l=3,
    o=4 and 'hole' -> [2, 4, 3, 1]. There is no <eos> at character level.
    """
    tok = CharTokenizer().fit("hello")
    assert tok.encode("hole") == [2, 4, 3, 1]
    assert tok.vocab_size == 5 and tok.unk_id == 0 and tok.eos_id is None


def test_char_unseen_characters_are_unk_and_decode_as_replacement_char():
    """What comes back from a character never seen in fit?

    It encodes to <unk> (id 0) and decodes to U+FFFD, the Unicode replacement character, one
    character in place of one character.
    """
    tok = CharTokenizer().fit("abc")
    ids = tok.encode("abz")
    assert ids == [1, 2, 0]
    assert tok.decode(ids) == "ab\ufffd"


_CHAR_TOK = CharTokenizer().fit(SAMPLE)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=sorted(set(SAMPLE))))
def test_char_round_trip_on_its_alphabet(text):
    """Is decode(encode(s)) == s for every string over the alphabet the tokenizer was fit on?

    Yes: each character has its own id, so nothing is lost.
    """
    assert _CHAR_TOK.decode(_CHAR_TOK.encode(text)) == text


# =============================================================================== word
@pytest.mark.parametrize("line, expected", [
    # lower -> "don't panic!"; "'" -> " '  " gives "don '  t panic!"; "!" -> " ! "; split.
    ("Don't panic!", ["don", "'", "t", "panic", "!"]),
    # '"' is deleted (not split off); "," and "." get spaces around them.
    ('She said "hi", then left.', ["she", "said", "hi", ",", "then", "left", "."]),
    # "." splits decimals and "," splits thousands; "$" is untouched, so "$3" stays one token.
    ("It costs $3.50 (or 1,000 yen).",
     ["it", "costs", "$3", ".", "50", "(", "or", "1", ",", "000", "yen", ")", "."]),
    # "<br />" becomes a space (after "." was already split), ";" and ":" become spaces.
    ("Great movie.<br /><br />Loved it;really: yes?",
     ["great", "movie", ".", "loved", "it", "really", "yes", "?"]),
    # a possessive and single quotes: every "'" becomes its own token.
    ("'Tis Émile's ROOM", ["'", "tis", "émile", "'", "s", "room"]),
    # "-" and "/" are not in torchtext's rules: they stay inside tokens.
    ("well-known A/B tests", ["well-known", "a/b", "tests"]),
])
def test_basic_english_matches_torchtext_rules(line, expected):
    """Does basic_english reproduce torchtext's normaliser on tricky strings?

    The expected lists are derived by hand by applying torchtext's rules in order: lowercase;
    ' -> " '  ", " -> "", . -> " . ", <br /> -> " ", , -> " , ", ( -> " ( ", ) -> " ) ",
    ! -> " ! ", ? -> " ? ", ; -> " ", : -> " ", whitespace runs -> " ", then split. The comment
    above each case shows the steps that matter.
    """
    assert basic_english(line) == expected
    assert WordTokenizer(mode="basic_english").tokenize(line) == expected


def test_cased_mode_keeps_case_words_and_numbers_whole():
    """How does the cased mode split a sentence with contractions, hyphens and numbers?

    Words with inner apostrophes or hyphens and numbers with '.'/',' separators are single tokens;
    other punctuation is a token of its own ('Mr.' -> 'Mr', '.'; '...' -> three '.'), case kept.
    """
    tok = WordTokenizer(mode="cased")
    assert tok.tokenize("Don't re-use 3.5 or 1,000 items, Mr. Smith... COVID-19!") == [
        "Don't", "re-use", "3.5", "or", "1,000", "items", ",", "Mr", ".", "Smith",
        ".", ".", ".", "COVID-19", "!"]
    assert tok.tokenize("a <unk> b") == ["a", "<unk>", "b"]   # special tokens stay whole


def test_word_add_eos_per_line_and_literal_unk():
    """With add_eos, what are the ids of WikiText-style lines that contain the literal <unk>?

    Every newline is an <eos> (id 1), and the corpus's own '<unk>' word is the unk id 0, not a
    new word. Vocab: <unk>=0, <eos>=1, then 'the' (count 2), then 'cat' < 'sat' (count 1 each).
    encode_corpus adds the last line's <eos> even without a final newline (PyTorch's data.py does
    that), plain encode does not (a prompt should not end in <eos>).
    """
    tok = WordTokenizer(mode="whitespace", add_eos=True).fit(" the <unk> cat \n the sat \n")
    assert tok.vocab.itos == ["<unk>", "<eos>", "the", "cat", "sat"]
    assert tok.encode(" the <unk> cat \n the sat \n") == [2, 0, 3, 1, 2, 4, 1]
    assert tok.encode("the dog") == [2, 0]
    assert tok.encode_corpus("the\nsat").tolist() == [2, 1, 4, 1]
    assert tok.eos_id == 1 and tok.decode([2, 3, 1, 4]) == "the cat\nsat"


def test_word_min_freq_sends_rare_words_to_unk():
    """With min_freq=2, what happens to a word seen once?

    'a' (3 times) and 'b' (2) make the cut, 'c' (once) does not and encodes as <unk>.
    """
    tok = WordTokenizer(mode="whitespace", min_freq=2).fit("a b a c a b")
    assert tok.vocab_size == 3            # <unk>, a, b  (no <eos> without add_eos)
    assert tok.encode("a c b") == [1, 0, 2]
    assert tok.eos_id is None


def test_word_decode_is_readable():
    """Does decode put spaces where a reader expects them?

    No space before , . ! ? ) or after (; basic_english's 'don ' t' glues back to "don't";
    WikiText's '@-@' becomes '-'; <eos> becomes a newline.
    """
    tokens = ["she", "said", "(", "twice", ")", ":", "don", "'", "t", "go", "!", "<eos>",
              "a", "well", "@-@", "known", "fact", ",", "1", "@,@", "000", "times", "."]
    assert detokenize(tokens) == "she said (twice): don't go!\na well-known fact, 1,000 times."


# =============================================================================== BPE
def test_pretokenize_gpt2_chunks():
    """How does the GPT-2 pattern cut "I'm here   now!\\n"?

    "I" (letters), "'m" (contraction), " here" (space + letters), "  " (the spaces *not* followed
    by a non-space: the last space is left to the next word), " now", "!" (symbols), "\\n". The
    chunks concatenate back to the text.
    """
    text = "I'm here   now!\n"
    chunks = pretokenize(text)
    assert chunks == ["I", "'m", " here", "  ", " now", "!", "\n"]
    assert "".join(chunks) == text


def test_bpe_first_merges_on_a_hand_worked_example():
    """Which merges does BPE learn first from "low lower lowest newest widest"?

    Chunks (each once): "low", " lower", " lowest", " newest", " widest". Pair counts over bytes:
    l-o 3, o-w 3, w-e 3, e-s 3, s-t 3, space-l 2, every other pair 1. Five pairs tie at 3; the
    rule "smallest (left, right) byte strings" picks e-s ('e' < 'l' < 'o' < 's' < 'w').
      1. "es".  Now es-t 3 (lowest, newest, widest), l-o 3, o-w 3, and w-e only 1 (lower).
      2. "est"  (b"es" < b"l" < b"o").
      3. "lo"   (l-o 3 ties o-w 3, b"l" < b"o").
      4. "low"  (lo-w 3).
      5. " low" (space-low 2, in " lower" and " lowest"; everything else is now 1).
    With 256 bytes + <eos> + 5 merges, vocab_size=262 stops exactly there.
    """
    tok = BPETokenizer(vocab_size=262).fit("low lower lowest newest widest")
    learned = [tok.token_bytes(i) for i in range(257, 262)]
    assert learned == [b"es", b"est", b"lo", b"low", b" low"]
    assert tok.decode(tok.encode(" lowest")) == " lowest"
    assert [tok.token_bytes(i) for i in tok.encode(" lowest")] == [b" low", b"est"]


def naive_bpe_merges(text: str, n_merges: int, n_specials: int = 1) -> list[tuple[int, int]]:
    """The plain trainer of the reading track, :func:`learn_merges`, which recounts every pair
    before each merge (slow, clearly right), on the chunks of ``text``."""
    chunk_counts = Counter(chunk.encode("utf-8") for chunk in pretokenize(text))
    return learn_merges(chunk_counts, n_merges, first_id=256 + n_specials)


def test_bpe_incremental_training_equals_naive_recount():
    """Does the incremental trainer (update only the chunks containing the merged pair) learn
    exactly the merges of the naive trainer that recounts everything after each merge?

    It must: both apply the same rule to the same counts; the fast one only avoids recomputing
    counts that did not change. 150 merges on a small text, including repeated letters ('aaaa')
    whose overlapping pairs are the classic source of off-by-one count errors.
    """
    text = (SAMPLE * 3) + " aaaa aaa aa banana bandana  \t\n\n" + "zzzz " * 7
    n = 150
    tok = BPETokenizer(vocab_size=257 + n).fit(text)
    assert tok.merges == naive_bpe_merges(text, n)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="ab c\n", max_size=300), st.integers(1, 40))
def test_bpe_incremental_training_equals_naive_recount_on_random_text(text, n):
    """The same question on random texts over a tiny alphabet, where ties, runs like 'aaaa' and
    chunks that get fully merged are everywhere. Training may stop early when no pair is left;
    both trainers must then stop at the same point."""
    tok = BPETokenizer(vocab_size=257 + n).fit(text)
    assert tok.merges == naive_bpe_merges(text, n)
    assert tok.vocab_size == 257 + len(tok.merges)


def test_bpe_rank_encoding_equals_applying_merges_in_order():
    """Encoding picks, in each chunk, the present pair with the lowest rank. Is that the same as
    applying merge 1 to the whole chunk, then merge 2, and so on?

    Yes: a pair that contains the token made by merge k was learned after merge k, so ranks can
    only increase from one step to the next. Checked on every chunk of a text.
    """
    tok = BPETokenizer(vocab_size=400).fit(SAMPLE)
    base = 256 + len(tok.special_tokens)
    for chunk in set(pretokenize(SAMPLE + " unseen words: zebra, quixotic")):
        ids = list(chunk.encode())
        for k, pair in enumerate(tok.merges):
            ids = merge_pair(ids, pair, base + k)
        assert tok.encode(chunk) == ids, chunk


_BPE_TOK = BPETokenizer(vocab_size=320).fit(SAMPLE)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_bpe_round_trip_on_any_unicode(text):
    """Is decode(encode(s)) == s for *any* string, including text never seen in training?

    Yes: BPE works on the UTF-8 bytes, and every byte has an id, so there is nothing unknown and
    nothing to lose. (Hypothesis generates emoji, CJK, control characters, combining marks...)
    """
    assert _BPE_TOK.decode(_BPE_TOK.encode(text)) == text


@pytest.mark.parametrize("text", [
    "", "\x00\x01\x7f", "🦊🦊 fox", "戦場のヴァルキュリア3", "\u0301 lone combining mark",
    "e\u0301 vs é", "tabs\tand\r\nCRLF", "<eos>", "a<eos>b<eos", "\U0010ffff",
])
def test_bpe_round_trip_tricky_strings(text):
    """Do specific hard cases round-trip: NUL and control bytes, emoji, CJK, a combining mark with
    nothing to combine with, decomposed vs precomposed é, CRLF, the literal special token and a
    half-written one, the last code point? Yes, byte for byte (no Unicode normalisation)."""
    assert _BPE_TOK.decode(_BPE_TOK.encode(text)) == text


def test_bpe_special_tokens_are_single_ids_and_never_merged_across():
    """How is "<eos>" in the text encoded?

    As the single special id 256 (bytes are 0..255, specials come next), and the text on both
    sides is encoded on its own, so no merge glues a neighbour to it.
    """
    tok = BPETokenizer(vocab_size=300).fit("ab<eos>ab<eos>ab<eos>")
    assert tok.eos_id == 256 and tok.unk_id is None
    ids = tok.encode("ab<eos>ab")
    assert ids.count(256) == 1 and ids[ids.index(256) - 1] != 256
    assert tok.decode(ids) == "ab<eos>ab"
    assert all(256 not in m for m in tok.merges)


def test_bpe_add_eos_turns_newlines_into_eos():
    """With add_eos=True, what becomes of the newline?

    Each "\\n" is the eos id and the eos id decodes to "\\n", so the round trip still holds;
    encode_corpus also ends the last line with eos.
    """
    tok = BPETokenizer(vocab_size=300, add_eos=True).fit("one line\nanother line\n")
    ids = tok.encode("one\ntwo")
    assert ids.count(tok.eos_id) == 1 and 10 not in ids          # byte 10 = "\n" never appears
    assert tok.decode(ids) == "one\ntwo"
    assert tok.encode_corpus("one\ntwo")[-1] == tok.eos_id


def test_bpe_decodes_invalid_utf8_with_replacement():
    """What does decode do with ids whose bytes are not valid UTF-8 (half of 'é' = 0xC3)?

    It uses errors="replace": the broken sequence becomes U+FFFD instead of raising.
    """
    tok = _BPE_TOK
    assert tok.decode([0xC3]) == "\ufffd"
    assert tok.decode([ord("a"), 0xFF, ord("b")]) == "a\ufffdb"


def test_bpe_vocab_size_must_hold_bytes_and_specials():
    """Why is vocab_size=256 an error with the default special token?

    The 256 bytes and <eos> already need 257 ids.
    """
    with pytest.raises(ValueError, match="257"):
        BPETokenizer(vocab_size=256)
    assert BPETokenizer(vocab_size=256, special_tokens=()).fit("aaaa").vocab_size == 256


# =============================================================================== protocol
@pytest.mark.parametrize("kind", KINDS)
def test_encode_before_fit_is_a_clear_error(kind):
    """What happens when an unfitted tokenizer is used? A RuntimeError that says to call fit()."""
    tok = UNFITTED[kind]()
    with pytest.raises(RuntimeError, match="not fitted yet.*fit"):
        tok.encode("hello")
    with pytest.raises(RuntimeError, match="not fitted"):
        tok.decode([1])


@pytest.mark.parametrize("kind", KINDS)
def test_decode_out_of_range_id_is_a_value_error(kind):
    """Does decode refuse ids the vocabulary does not have (too large, negative)?

    Yes, with a ValueError naming the id and the vocabulary size.
    """
    tok = fitted(kind)
    v = tok.vocab_size
    with pytest.raises(ValueError, match=rf"token id {v} at position 1 .*vocab_size {v}"):
        tok.decode([0, v])
    with pytest.raises(ValueError, match="token id -3"):
        tok.decode(np.array([-3]))
    with pytest.raises(TypeError, match="integer"):
        tok.decode(np.array([1.0, 2.0]))


@pytest.mark.parametrize("kind", KINDS)
def test_decode_accepts_lists_tuples_and_arrays(kind):
    """Do list, tuple, int32 and int64 arrays of the same ids decode to the same text? Yes."""
    tok = fitted(kind)
    ids = tok.encode("The lazy fox.")
    texts = {tok.decode(x) for x in (ids, tuple(ids), np.array(ids, dtype=np.int32),
                                     np.array(ids, dtype=np.int64))}
    assert len(texts) == 1 and tok.decode([]) == ""


@pytest.mark.parametrize("kind", KINDS)
def test_save_and_load_tokenizer_round_trip(kind, tmp_path):
    """Does load_tokenizer restore the right class with the same vocabulary, from JSON?

    The file is JSON (it parses, and carries the kind); the loaded tokenizer is the same class,
    has the same to_dict() and encodes a new sentence to the same ids.
    """
    tok = fitted(kind)
    path = tmp_path / f"{kind}.json"
    tok.save(path)
    assert json.loads(path.read_text(encoding="utf-8"))["kind"] == kind
    loaded = load_tokenizer(path)
    assert type(loaded) is type(tok) and loaded.kind == kind
    assert loaded.to_dict() == tok.to_dict()
    assert tokenizer_from_dict(json.loads(json.dumps(tok.to_dict()))).to_dict() == tok.to_dict()
    probe = "The newest fox didn't jump; émile 42 🦊\n"
    assert loaded.encode(probe) == tok.encode(probe)
    assert (loaded.eos_id, loaded.unk_id, loaded.vocab_size) == (tok.eos_id, tok.unk_id,
                                                                 tok.vocab_size)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_accepts_a_string_or_an_iterable_of_strings(kind):
    """Is fit(generator of lines) the same as fit(list of lines)? It returns self, and yes."""
    lines = SAMPLE.splitlines(keepends=True)
    a = UNFITTED[kind]()
    assert a.fit(line for line in lines) is a
    b = UNFITTED[kind]().fit(list(lines))
    assert a.to_dict() == b.to_dict()
    with pytest.raises(TypeError):
        UNFITTED[kind]().fit([b"bytes are not text"])


def test_encode_corpus_is_int64():
    """Is encode_corpus a 1-D int64 array equal to encode()? Yes (for text ending in a newline)."""
    for kind in KINDS:
        tok = fitted(kind)
        arr = tok.encode_corpus(SAMPLE)
        assert arr.dtype == np.int64 and arr.ndim == 1 and arr.tolist() == tok.encode(SAMPLE)


# =============================================================================== batching
def test_batchify_layout_by_hand():
    """How does batchify lay out 26 tokens 0..25 in 4 columns?

    T = 26 // 4 = 6 rows; the 2 leftover tokens (24, 25) are dropped; column b is the contiguous
    stretch b*6 .. b*6+5, so row 0 is [0, 6, 12, 18] and column 1 reads 6..11 downwards.
    """
    data = batchify(np.arange(26), 4)
    assert data.shape == (6, 4) and data.dtype == np.int64 and data.flags.c_contiguous
    assert data[0].tolist() == [0, 6, 12, 18]
    assert data[:, 1].tolist() == list(range(6, 12))
    assert np.array_equal(data, np.arange(24).reshape(4, 6).T)


def test_batchify_rejects_short_streams_and_bad_arguments():
    """When is a stream too short? When a column would have no (input, target) pair: N < 2B."""
    with pytest.raises(ValueError, match="too short"):
        batchify(np.arange(7), 4)
    assert batchify(np.arange(8), 4).shape == (2, 4)
    with pytest.raises(ValueError, match="batch_size"):
        batchify(np.arange(10), 0)
    with pytest.raises(TypeError, match="integer"):
        batchify(np.arange(10.0), 2)


def test_fixed_windows_shift_targets_by_one_across_boundaries():
    """Are targets the inputs one step later, including across window boundaries, and does
    len() tell how many windows come?

    T = 23 rows, bptt = 5: T - 1 = 22 input positions -> windows of 5, 5, 5, 5, 2 = 5 windows.
    Concatenated inputs are rows 0..21 and concatenated targets rows 1..22; the last target row of
    each window is the first input row of the next one.
    """
    data = batchify(np.arange(23 * 3), 3)
    windows = list(bptt_windows(data, 5))
    assert len(windows) == len(bptt_windows(data, 5)) == num_windows(data, 5) == 5
    assert [len(x) for x, _ in windows] == [5, 5, 5, 5, 2]
    for x, y in windows:
        assert x.shape == y.shape and np.array_equal(x[1:], y[:-1])
    for (_, y0), (x1, _) in zip(windows, windows[1:]):
        assert np.array_equal(y0[-1], x1[0])
    assert np.array_equal(np.concatenate([x for x, _ in windows]), data[:-1])
    assert np.array_equal(np.concatenate([y for _, y in windows]), data[1:])


def test_variable_windows_cover_the_stream_exactly_once():
    """AWD-LSTM's variable-length windows: does every position still get used once, and are the
    lengths reproducible and sensible?

    The lengths are random (bptt=20 with p=0.95 else 10, plus N(0, 5) noise, at least 5), but the
    windows still tile rows 0..T-2 in order. The same seed gives the same lengths; every window
    but the last is >= min_len; the mean is near 0.95*20 + 0.05*10 = 19.5 (minus ~0.5 from
    rounding down).
    """
    data = batchify(np.arange(2000 * 2), 2)
    lengths = [len(x) for x, _ in bptt_windows(data, 20, variable=True, rng=123)]
    again = [len(x) for x, _ in bptt_windows(data, 20, variable=True,
                                             rng=np.random.default_rng(123))]
    assert lengths == again and sum(lengths) == 1999
    assert min(lengths[:-1]) >= 5 and 17 < np.mean(lengths[:-1]) < 21
    windows = list(bptt_windows(data, 20, variable=True, rng=7))
    assert np.array_equal(np.concatenate([x for x, _ in windows]), data[:-1])
    assert np.array_equal(np.concatenate([y for _, y in windows]), data[1:])
    with pytest.raises(TypeError):
        len(bptt_windows(data, 20, variable=True))


def test_validate_ids_names_the_first_bad_id_and_position():
    """Which id does validate_ids report in [[1, 2], [9, -1]] for vocab_size 5?

    The first bad one in row-major order: 9 at position (1, 0). Floats are a TypeError.
    """
    assert validate_ids([[1, 2], [3, 4]], 5).shape == (2, 2)
    with pytest.raises(ValueError, match=r"token id 9 at position \(1, 0\).*vocab_size 5"):
        validate_ids(np.array([[1, 2], [9, -1]]), 5)
    with pytest.raises(ValueError, match="token id -1 at position 2"):
        validate_ids([0, 1, -1], 5)
    with pytest.raises(TypeError, match="integer dtype"):
        validate_ids(np.array([0.0, 1.0]), 5)


# =============================================================================== corpora
def test_load_text_folder_joins_sorted_files_with_a_blank_line(tmp_path):
    """How is a folder of .txt files read?

    In sorted name order (a.txt before b.txt), one blank line between files, CRLF turned into LF;
    other extensions are ignored.
    """
    (tmp_path / "b.txt").write_bytes(b"second\r\n")
    (tmp_path / "a.txt").write_text("first\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("ignored", encoding="utf-8")
    assert load_text(tmp_path) == "first\n\nsecond\n"


def test_load_text_reports_non_utf8_file_and_byte_offset(tmp_path):
    """What error does a Latin-1 file give? One naming the file and the offset of the bad byte.

    "café" in Latin-1 is 63 61 66 E9: byte 3 (0xE9) starts a UTF-8 sequence that never finishes.
    """
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1\.txt.*byte offset 3"):
        load_text(path)


def test_load_text_rejects_empty_and_missing(tmp_path):
    """Empty or whitespace-only corpora are a ValueError; a missing path a FileNotFoundError
    that names it."""
    (tmp_path / "empty.txt").write_text(" \n\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="empty"):
        load_text(tmp_path / "empty.txt")
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        load_text(tmp_path / "nope.txt")


def test_load_splits_uses_split_files_including_ptb_names(tmp_path):
    """Does a folder with ptb.train.txt, ptb.valid.txt, ptb.test.txt give those as the splits?"""
    for split in ("train", "valid", "test"):
        (tmp_path / f"ptb.{split}.txt").write_text(f" {split} text \n", encoding="utf-8")
    assert load_splits(tmp_path) == {s: f" {s} text \n" for s in ("train", "valid", "test")}


def test_split_by_ratio_at_document_then_line_boundaries():
    """Where does an 80/10/10 split cut ten equal documents? And one document of ten lines?

    Ten documents of 10 characters + a blank line: the cuts fall at the document boundaries
    nearest 80% and 90% of the text, after documents 8 and 9. A single document has no blank
    lines, so the same cut happens between lines 8|9 and 9|10. Either way the parts concatenate
    back to the text (nothing is lost or shuffled).
    """
    docs = "\n\n".join(f"document{i}" for i in range(10)) + "\n"
    parts = split_text(docs)
    assert parts["train"].strip().split("\n\n") == [f"document{i}" for i in range(8)]
    assert parts["valid"].strip() == "document8" and parts["test"].strip() == "document9"
    assert "".join(parts.values()) == docs
    lines = "".join(f"line{i:05d}\n" for i in range(10))
    parts = split_text(lines)
    assert parts["valid"] == "line00008\n" and parts["test"] == "line00009\n"
    with pytest.raises(ValueError, match="ratios"):
        split_text(lines, ratios=(0.5, 0.5, 0.0))


def test_missing_named_corpus_says_where_it_looked(tmp_path):
    """What does load_corpus say when WikiText-2 is not in the data folder?

    It names the folder it searched and the files it expected, and how to fix it.
    """
    with pytest.raises(FileNotFoundError) as err:
        load_corpus("wikitext2", data_dir=tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "wikitext-2") in msg and "train.txt" in msg
    assert "SCRATCHLSTM_DATA" in msg and "data_dir=" in msg and "download=True" in msg
    with pytest.raises(FileNotFoundError, match="neither a known corpus"):
        load_corpus("no-such-corpus")


def test_data_dir_comes_from_argument_then_environment(monkeypatch, tmp_path):
    """Which data folder wins? The argument, then $SCRATCHLSTM_DATA, then ~/.cache/..."""
    monkeypatch.setenv("SCRATCHLSTM_DATA", str(tmp_path / "env"))
    assert resolve_data_dir("/x") == Path("/x")
    assert resolve_data_dir() == tmp_path / "env"
    monkeypatch.delenv("SCRATCHLSTM_DATA")
    assert resolve_data_dir() == Path.home() / ".cache" / "scratchlstm" / "data"


def test_download_verifies_checksum_and_writes_atomically(tmp_path, monkeypatch):
    """Offline, with a file:// URL: does download=True fetch a missing corpus, and does a wrong
    checksum leave nothing behind?

    A good sha256 gives the file and load_corpus works; a wrong one raises, and neither the file
    nor a temporary '.part' file remains.
    """
    src = tmp_path / "src.txt"
    src.write_text("one line\n" * 30, encoding="utf-8")
    good = sha256_of(src)
    spec = CorpusSpec(name="tiny", folder="tiny", files={s: "all.txt" for s in ("train", "valid",
                                                                                  "test")},
                      level="char", char_split=0.9, urls={"all.txt": src.as_uri()},
                      sha256={"all.txt": good})
    monkeypatch.setitem(CORPORA, "tiny", spec)
    splits = load_corpus("tiny", data_dir=tmp_path / "data", download=True)
    assert splits["train"] + splits["valid"] == "one line\n" * 30
    assert splits["valid"] == splits["test"]
    with pytest.raises(ValueError, match="checksum mismatch"):
        download_file(src.as_uri(), tmp_path / "bad" / "x.txt", sha256="0" * 64)
    assert list((tmp_path / "bad").iterdir()) == []


def test_a_path_instead_of_a_name_goes_through_load_splits(tmp_path):
    """load_corpus(path) for a one-document file of 20 lines: an 80/10/10 cut by lines."""
    path = tmp_path / "story.txt"
    path.write_text("".join(f"line {i:02d}\n" for i in range(20)), encoding="utf-8")
    splits = load_corpus(path)
    assert [s.count("\n") for s in splits.values()] == [16, 2, 2]


def test_named_corpora_files_match_their_checksums(corpus_dir):
    """Are the shared copies the files the specs describe? Every sha256 must match."""
    root = corpus_dir("wikitext-2")
    for spec in CORPORA.values():
        for name, digest in spec.sha256.items():
            path = root / spec.folder / name
            if path.is_file():
                assert sha256_of(path) == digest, path


def test_wikitext2_word_level_reproduces_the_published_counts(corpus_dir):
    """With the conventions in CORPORA['wikitext2'] (whitespace split, <eos> per line), do we get
    the numbers every WikiText-2 paper uses?

    33,278 word types including <eos> (the corpus's literal <unk> is our unk, id 0), and
    2,088,628 training tokens = 2,051,910 words + 36,718 lines.
    """
    splits = load_corpus("wikitext2", data_dir=corpus_dir("wikitext-2"))
    tok = CORPORA["wikitext2"].make_tokenizer().fit(splits["train"])
    assert tok.vocab_size == 33_278
    ids = tok.encode_corpus(splits["train"])
    assert len(ids) == 2_088_628 and (ids == tok.eos_id).sum() == 36_718
    assert len(tok.encode_corpus(splits["valid"])) == 217_646


def test_ptb_word_level_reproduces_the_published_counts(corpus_dir):
    """PTB with one <eos> per line: a 10,000-word vocabulary and 929,589 training tokens."""
    splits = load_corpus("ptb", data_dir=corpus_dir("ptb"))
    tok = CORPORA["ptb"].make_tokenizer().fit(splits["train"])
    assert tok.vocab_size == 10_000
    assert len(tok.encode_corpus(splits["train"])) == 929_589


def test_tinyshakespeare_is_split_90_10_by_characters(corpus_dir):
    """Tiny Shakespeare has 1,115,394 characters: train is the first int(0.9 n) = 1,003,854,
    valid the remaining 111,540, and test is the same text as valid. 65 distinct characters,
    so the char vocabulary has 66 ids with <unk>."""
    splits = load_corpus("tinyshakespeare", data_dir=corpus_dir("tinyshakespeare"))
    assert len(splits["train"]) == 1_003_854 and len(splits["valid"]) == 111_540
    assert splits["test"] == splits["valid"]
    tok = CORPORA["tinyshakespeare"].make_tokenizer().fit(splits["train"])
    assert tok.kind == "char" and tok.vocab_size == 66


def test_covid_corpus_loads(corpus_dir):
    """The COVID corpus (shipped in the package, scratchlstm/corpora/covid, or in the data folder): three non-empty
    splits of documents, train the largest."""
    shipped = CORPORA["covid"].local
    root = None if shipped and (shipped / "train.txt").is_file() else corpus_dir("covid")
    splits = load_corpus("covid", data_dir=root)
    assert all(splits[s].strip() for s in ("train", "valid", "test"))
    assert len(splits["train"]) > max(len(splits["valid"]), len(splits["test"]))


# =============================================================================== house rules
def test_text_package_imports_numpy_only_through_the_backend():
    """Does any module of scratchlstm/text import numpy or cupy directly? It must not: only
    scratchlstm/backend.py chooses the array library."""
    for path in (REPO / "scratchlstm" / "text").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            assert not any(n.split(".")[0] in ("numpy", "cupy") for n in names), path


# ----------------------------------------------------------------------------------------------
# The workbook ladder (bpe.py): values, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('count_pairs', 'merge_pair', 'learn_merges', 'encode_chunk'))
def test_ladder(ladder, name):
    ladder(name)
