"""The COVID-19 corpus shipped in scratchlstm/corpora/covid (package data) meets its quality bars.

A language model learns nothing from text that repeats itself, so besides size we check the
signs of templated or copied text: compressibility, repeated sentences, and vocabulary size.
"""
import collections
import gzip
import re
from pathlib import Path

import pytest

from scratchlstm.text import load_corpus

FOLDER = Path(__file__).resolve().parents[1] / "scratchlstm" / "corpora" / "covid"
SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def splits():
    return {name: (FOLDER / f"{name}.txt").read_text(encoding="utf-8") for name in SPLITS}


def documents(text):
    return [d.strip() for d in re.split(r"\n\s*\n", text) if d.strip()]


def test_size_and_documents(splits):
    """At least 1,000,000 characters in at least 300 documents, split about 80/10/10."""
    total = sum(len(t) for t in splits.values())
    docs = {name: documents(t) for name, t in splits.items()}
    n_docs = sum(len(d) for d in docs.values())
    assert total >= 1_000_000
    assert n_docs >= 300
    assert 0.75 <= len(docs["train"]) / n_docs <= 0.85
    assert all(0.05 <= len(docs[s]) / n_docs <= 0.15 for s in ("valid", "test"))


def test_no_document_in_two_splits(splits):
    """Train, valid and test share no document (no leakage into the evaluation sets)."""
    sets = {name: set(documents(t)) for name, t in splits.items()}
    assert not sets["train"] & sets["valid"]
    assert not sets["train"] & sets["test"]
    assert not sets["valid"] & sets["test"]


def test_compresses_like_natural_prose(splits):
    """gzip -9 shrinks natural English about 2.6-3.1x; templated text compresses far more."""
    raw = "\n\n".join(splits[s] for s in SPLITS).encode("utf-8")
    assert len(raw) / len(gzip.compress(raw, 9)) <= 3.4


def test_no_long_sentence_repeated_more_than_twice(splits):
    """No sentence of 8 or more words occurs more than twice in the whole corpus."""
    text = "\n".join(splits.values())
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n", text) if len(s.split()) >= 8]
    repeated = [s for s, n in collections.Counter(sentences).items() if n > 2]
    assert repeated == []


def test_rich_vocabulary(splits):
    """At least 12,000 distinct lower-case word types."""
    words = re.findall(r"[a-z]+(?:'[a-z]+)*", " ".join(splits.values()).lower())
    assert len(set(words)) >= 12_000


def test_plain_text_format(splits):
    """Plain text: no markup characters, one paragraph per line, single blank lines between documents."""
    for name, text in splits.items():
        assert not re.search(r"[#*<>\[\]{}|`_]", text), name
        assert "\n\n\n" not in text, name
        assert "\t" not in text and "\r" not in text, name


def test_named_corpus_loads_the_shipped_files(monkeypatch, tmp_path):
    """load_corpus('covid') reads these files with no data folder or download configured."""
    monkeypatch.setenv("SCRATCHLSTM_DATA", str(tmp_path))     # an empty data folder
    corpus = load_corpus("covid")
    assert corpus["valid"] == (FOLDER / "valid.txt").read_text(encoding="utf-8")
