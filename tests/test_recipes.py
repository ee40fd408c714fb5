"""Every CPU training recipe in recipes/ runs: one short epoch on a small slice of its corpus,
through the same command a full run uses. Recipes whose corpus is not available (the named
corpora other than the shipped COVID one live in ../shared/data) are skipped. The examples read
the same files, and a misspelt name in a recipe is an error."""
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from scratchlstm.config import build_run_config, load_recipe
from scratchlstm.text.corpus import CORPORA

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "recipes").glob("*.py"))
CPU_CONFIGS = [c for c in CONFIGS if runpy.run_path(str(c)).get("device") != "cuda"]


def test_there_is_a_recipe_per_experiment():
    """ptb-small, shakespeare-char (reference and tuned), covid (char, word, BPE), wikitext2 run on
    the CPU; ptb-medium and the large shakespeare model are GPU recipes."""
    names = {c.stem for c in CONFIGS}
    assert {"ptb_small", "ptb_medium", "shakespeare_char", "shakespeare_char_tuned", "shakespeare_char_gpu",
            "covid_char", "covid_word", "covid_bpe", "wikitext2", "covid_quick", "covid_word_gpu",
            "covid_char_transformer"} <= names
    assert {c.stem for c in CONFIGS} - {c.stem for c in CPU_CONFIGS} == {"ptb_medium", "shakespeare_char_gpu",
                                                                        "covid_word_gpu"}
    assert not (REPO / "benchmarks" / "configs").exists()         # one place for recipes


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_recipe_is_valid(config):
    """Each recipe assigns only known names with values in range (GPU recipes included)."""
    recipe = load_recipe(config)
    run = build_run_config(recipe)
    assert run.out is not None and run.data.data


def test_the_examples_read_the_recipes():
    """examples/train_covid.py and examples/train_shakespeare_char.py take their settings from
    recipes/ (no settings of their own that could drift from the recipes)."""
    covid = (REPO / "examples" / "train_covid.py").read_text()
    shakespeare = (REPO / "examples" / "train_shakespeare_char.py").read_text()
    assert "load_recipe" in covid and "covid_quick.py" in covid and "covid_word_gpu.py" in covid
    assert "load_recipe" in shakespeare and '"shakespeare_char.py"' in shakespeare
    for source in (covid, shakespeare):
        assert "hidden_dim=" not in source.split("QUICK")[0] and "lr=" not in source


@pytest.mark.parametrize("text, message", [
    ("modle = dict(hidden_dim=8)\n", "'modle' (did you mean 'model'?)"),
    ("model = dict(hiden_dim=8)\n", "'hiden_dim' (did you mean 'hidden_dim'?)"),
    ("train = dict(epoch=3)\n", "'epoch' (did you mean 'epochs'?)"),
    ("tokenizer_options = dict(vocab_sise=100)\n", "'vocab_sise' (did you mean 'vocab_size'?)"),
    ("model = dict(kind='transformer', hidden_dim=8)\n", "--hidden-dim is not an option of the transformer"),
    ("train = dict(lr=float('nan'))\n", "lr (--lr) must be a finite number > 0"),
    ("model = dict(dropout=1.5)\n", "dropout (--dropout) must be a finite number in [0, 1)"),
])
def test_a_misspelt_or_bad_recipe_is_an_error(tmp_path, capsys, text, message):
    """A recipe with a misspelt name used to train the default model and exit 0: now exit 2 with
    the file, the name and the closest valid one; nothing is trained or written."""
    from scratchlstm import cli

    recipe = tmp_path / "recipe.py"
    recipe.write_text("import math\n" + text)
    code = cli.main(["train", "--config", str(recipe), "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and str(recipe) in err and message in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config", CPU_CONFIGS, ids=[c.stem for c in CPU_CONFIGS])
def test_recipe_smoke_run(config, tmp_path, corpus_dir):
    """One epoch of at most 3 steps on the first 12,000 characters of each split."""
    data = runpy.run_path(str(config))["data"]
    env = dict(os.environ, PYTHONPATH=str(REPO), SCRATCHLSTM_DEVICE="cpu")
    if data != "covid":
        env["SCRATCHLSTM_DATA"] = str(corpus_dir(CORPORA[data].folder))
    r = subprocess.run([sys.executable, "-m", "scratchlstm", "train", "--config", str(config), "--epochs", "1",
                        "--max-steps-per-epoch", "3", "--max-chars", "12000", "--out", str(tmp_path / "run"),
                        "--samples", "0"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "epoch   1" in r.stdout
    assert (tmp_path / "run" / "best.npz").exists() and (tmp_path / "run" / "history.json").exists()
