"""Every CPU training recipe in benchmarks/configs runs: one short epoch on a small slice of its
corpus, through the same command a full run uses. Recipes whose corpus is not available (the
named corpora other than the shipped COVID one live in ../shared/data) are skipped."""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from scratchlstm.text.corpus import CORPORA

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "benchmarks" / "configs").glob("*.py"))
CPU_CONFIGS = [c for c in CONFIGS if runpy.run_path(str(c)).get("device") != "cuda"]


def test_there_is_a_recipe_per_experiment():
    """ptb-small, shakespeare-char (reference and tuned), covid (char, word, BPE), wikitext2 run on
    the CPU; ptb-medium and the large shakespeare model are GPU recipes."""
    names = {c.stem for c in CONFIGS}
    assert {"ptb_small", "ptb_medium", "shakespeare_char", "shakespeare_char_tuned", "shakespeare_char_gpu",
            "covid_char", "covid_word", "covid_bpe", "wikitext2"} <= names
    assert {c.stem for c in CONFIGS} - {c.stem for c in CPU_CONFIGS} == {"ptb_medium", "shakespeare_char_gpu"}


@pytest.mark.parametrize("config", CPU_CONFIGS, ids=[c.stem for c in CPU_CONFIGS])
def test_recipe_smoke_run(config, tmp_path, corpus_dir):
    """One epoch of at most 3 steps on the first 30,000 characters of each split."""
    data = runpy.run_path(str(config))["data"]
    env = dict(os.environ, PYTHONPATH=str(REPO), SCRATCHLSTM_DEVICE="cpu")
    if data != "covid":
        env["SCRATCHLSTM_DATA"] = str(corpus_dir(CORPORA[data].folder))
    r = subprocess.run([sys.executable, "-m", "scratchlstm", "train", "--config", str(config), "--epochs", "1",
                        "--max-steps-per-epoch", "3", "--max-chars", "30000", "--out", str(tmp_path / "run"),
                        "--samples", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "epoch   1" in r.stdout
    assert (tmp_path / "run" / "best.npz").exists() and (tmp_path / "run" / "history.json").exists()
