"""The pretrained checkpoint that ships in the package: it loads, it is the model its recipe says,
it has learned the corpus, and it is declared as package data (so a non-editable install has it)."""
import configparser
import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from scratchlstm import pretrained
from scratchlstm.data import prepare_data
from scratchlstm.text import BPETokenizer
from scratchlstm.training import bits_per_char, evaluate

REPO = Path(__file__).resolve().parents[1]


def test_load_gives_an_eval_mode_bpe_model_that_fits_its_tokenizer():
    model, tokenizer = pretrained.load("covid-bpe")
    assert isinstance(tokenizer, BPETokenizer)
    assert model.vocab_size == tokenizer.vocab_size == 3000
    assert not model.training                        # dropout off: ready to generate
    assert all(p.data.dtype == numpy.float32 for p in model.parameters())
    assert pretrained.names() == ["covid-bpe"]


def test_the_file_is_small_enough_to_ship():
    assert pretrained.path("covid-bpe").stat().st_size < 8.5e6


def test_it_has_learned_the_corpus():
    """On the first 3,000 tokens of the validation text: far below the uniform guess (log2 of
    3,000 tokens' worth of bits per character is ~3.5) and near its recorded 1.98 bits/char."""
    model, tokenizer = pretrained.load()
    splits = prepare_data("covid", tokenizer, fit=False)
    ids = splits[0]["valid"][:3000]
    chars = len(tokenizer.decode(ids.tolist()))
    loss = evaluate(model, ids, batch_size=5, bptt=35)
    bpc = bits_per_char(loss, ids.size - 1, chars)
    assert bpc < 2.3, bpc
    assert abs(pretrained.info()["result"]["valid_bpc"] - 1.978) < 0.01


def test_its_metadata_names_the_committed_recipe():
    """The checkpoint records the recipe it was made with, and that is the committed file."""
    info = pretrained.info("covid-bpe")
    recipe = runpy.run_path(str(REPO / info["recipe"]["file"]))
    assert info["recipe"]["model"] == recipe["model"]
    assert info["recipe"]["train"] == recipe["train"]
    assert info["recipe"]["tokenizer_options"] == recipe["tokenizer_options"]
    assert {"valid_bpc", "test_bpc", "test_ppl"} <= set(info["result"])
    assert [s["when"] for s in info["samples"]][:2] == ["step 0", "step 30"]
    assert all(len(s["texts"]) == 2 for s in info["samples"])
    assert len(info["history"]) == recipe["train"]["epochs"]


def test_unknown_name_and_missing_file_are_explained(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="available: covid-bpe"):
        pretrained.path("covid-words")
    monkeypatch.setattr(pretrained, "FOLDER", tmp_path)
    with pytest.raises(FileNotFoundError, match="make_pretrained.py"):
        pretrained.load("covid-bpe")


def test_setup_cfg_ships_the_checkpoint_as_package_data():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    # setuptools takes the patterns separated by commas or by new lines
    value = cfg["options.package_data"]["scratchlstm"]
    patterns = [p.strip() for p in value.replace("\n", ",").split(",")]
    assert "pretrained/*.npz" in patterns


def test_command_line_lists_the_checkpoints():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, "-m", "scratchlstm.pretrained"], capture_output=True, text=True,
                       cwd=REPO, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "covid-bpe" in r.stdout and "covid-bpe.npz" in r.stdout and "bits per character" in r.stdout


def test_the_web_playground_serves_it():
    """`python -m scratchlstm serve --checkpoint <pretrained.path()>`: the server loads the shipped
    file like any checkpoint and generates from it."""
    import json
    import threading
    import urllib.request

    from scratchlstm.server import make_server

    srv = make_server(pretrained.path("covid-bpe"), host="127.0.0.1", port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        with urllib.request.urlopen(url + "/api/info", timeout=30) as resp:
            info = json.loads(resp.read())
        assert info["tokenizer"] == "bpe" and info["vocab_size"] == 3000
        req = urllib.request.Request(url + "/api/generate", method="POST",
                                     data=json.dumps({"prompt": "The vaccine", "max_new_tokens": 8,
                                                      "seed": 0}).encode())
        with urllib.request.urlopen(req, timeout=30) as resp:
            result = json.loads(resp.read())
        assert len(result["tokens"]) == 8 and result["text"]
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.slow
def test_the_recipe_script_runs_and_exports_a_loadable_checkpoint(tmp_path):
    """benchmarks/make_pretrained.py --quick: a tiny model, 2 x 20 steps on a slice of the corpus,
    exported with its samples and history, without optimizer state."""
    from scratchlstm.checkpoint import load_checkpoint

    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")
    out = tmp_path / "export.npz"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "make_pretrained.py"), "--quick",
                        "--out", str(tmp_path / "run"), "--export", str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    ckpt = load_checkpoint(out)
    meta = ckpt.user_meta
    assert meta["kind"] == "pretrained" and len(meta["history"]) == 2
    assert [s["when"] for s in meta["samples"]][0] == "step 0"
    assert not any(name.startswith("optim/") for name in ckpt.arrays)       # weights only
    model, tokenizer = ckpt.build_model().eval(), ckpt.tokenizer()
    assert model.vocab_size == tokenizer.vocab_size
