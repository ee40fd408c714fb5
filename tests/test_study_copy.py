"""The LSTM-against-transformer study's copy task: its sequences are what the docstring promises,
its accuracy gives a perfect copier 1 and the always-the-separator guess about 1/d, and the
experiment runs end to end and records the baseline next to the scores."""
import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study():
    saved = sys.argv
    sys.argv = ["study_lstm_transformer.py"]
    try:
        yield runpy.run_path(str(REPO / "benchmarks" / "study_lstm_transformer.py"))
    finally:
        sys.argv = saved


def test_copy_sequences_repeat_a_segment_of_distinct_symbols(study):
    seqs, periods = study["copy_sequences"](200, 129, np.random.default_rng(0))
    sep = study["COPY_SYMBOLS"]
    assert seqs.shape == (200, 129) and periods.min() >= 5 and periods.max() <= 64
    for row, d in zip(seqs, periods):
        segment = row[:d - 1]
        assert len(set(segment.tolist())) == d - 1 and sep not in segment      # distinct symbols
        assert row[d - 1] == sep
        assert np.array_equal(row[d:], row[:-d])                                 # period d exactly


class Copier:
    """A perfect copier: predicts the token d places back, d read from the first separator."""

    def __init__(self, vocab):
        self.vocab = vocab

    def eval(self):
        pass

    def __call__(self, inputs):                                  # (T, b) -> logits (T, b, V)
        T, b = inputs.shape
        logits = np.zeros((T, b, self.vocab))
        for col in range(b):
            d = int(np.flatnonzero(inputs[:, col] == 64)[0]) + 1
            for t in range(T):
                source = t + 1 - d                              # the target t + 1 is copied from here
                logits[t, col, inputs[source, col] if source >= 0 else 0] = 1.0
        return logits, None


def test_a_perfect_copier_scores_one_and_the_separator_about_one_over_d(study):
    _, valid, periods = study["copy_data"](0, 2, 128)
    overall, buckets = study["copy_accuracy"](Copier(66), valid, periods)
    assert overall == 1.0 and set(buckets.values()) == {1.0} and len(buckets) == 4
    base, base_buckets = study["copy_separator_baseline"](valid, periods)
    # the separator is one target in d; a window ends inside a period, so a little less than 1/d
    for name, value in base_buckets.items():
        low, high = map(int, name.split("-"))
        assert 1 / (2 * high) < value < 1 / (low - 1)
    assert base_buckets["5-16"] > base_buckets["49-64"] and 0 < base < 1


def test_the_copy_experiment_runs_and_records_its_baseline(study, tmp_path, capsys):
    argv = ["copy", "--params", "0.02", "--batch", "2", "--context", "24", "--minutes", "0.02",
            "--slice", "0.4", "--threads", "1", "--out", str(tmp_path)]
    assert (study["main"](argv) or 0) == 0
    result = json.loads((tmp_path / "copy-24.json").read_text())
    assert result["seed"] == 0 and result["separator_baseline"][0] > 0
    for model in result["models"].values():
        overall, buckets = model["scores"][-1][1]
        assert 0 <= overall <= 1 and set(buckets) <= {"5-16", "17-32", "33-48", "49-64"}


def test_the_slice_validation_of_a_synthetic_task_starts_every_window_at_a_sequence(study):
    from scratchlstm.text import batchify, bptt_windows

    length = 128
    _, valid, _ = study["copy_data"](0, 2, length)
    stream = valid[:, :-1].reshape(-1)
    prefix = study["slice_validation"](stream, length)
    assert prefix.size <= study["SLICE_VALID_TOKENS"] and prefix.size % (8 * length) == 0
    starts = {tuple(row) for row in valid[:, :4]}
    for inputs, _ in bptt_windows(batchify(prefix, 8), length):       # every window opens a sequence
        assert all(tuple(inputs[:4, col]) in starts for col in range(8))
    assert study["slice_validation"](stream).size == study["SLICE_VALID_TOKENS"]   # text: a plain prefix
