"""A new user's path: install the wheel anywhere, run the main job, watch a progress line that
fits the terminal, inspect the checkpoint, and find one name for every setting.

Most checks drive the real command line (``cli.main`` in this process, or ``python -m
scratchlstm`` in a subprocess, under a pseudo-terminal where the width matters); the wheel test
builds the package, installs it into a fresh virtual environment and runs it from another folder.
"""
import configparser
import fcntl
import json
import os
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import numpy
import pytest

import scratchlstm
from conftest import cli_main as main  # the shared CLI runner
from scratchlstm import LSTMLanguageModel, cli
from scratchlstm.checkpoint import load_checkpoint
from scratchlstm.config import DataConfig, LSTMConfig, TrainConfig, TransformerConfig, describe_fields
from scratchlstm.generation import stream
from scratchlstm.optim import Schedule
from scratchlstm.text import CharTokenizer
from scratchlstm.training import Trainer

REPO = Path(__file__).resolve().parents[1]
from conftest import CLI_TEXT as TEXT, TINY_CLI as TINY  # noqa: E402 - the shared tiny CLI run




# ---------------------------------------------------------------------------------------------
# Conventions of the command line
# ---------------------------------------------------------------------------------------------
def test_version_and_the_console_script(capsys):
    """`scratchlstm --version` names the version, and setup.cfg installs a `scratchlstm` command."""
    code, out, _ = main(capsys, "--version")
    assert code == 0 and out.strip() == f"scratchlstm {scratchlstm.__version__}"
    setup = configparser.ConfigParser()
    setup.read(REPO / "setup.cfg")
    scripts = setup["options.entry_points"]["console_scripts"].strip()
    assert scripts == "scratchlstm = scratchlstm.cli:main"
    assert "tqdm" in setup["options"]["install_requires"]


@pytest.mark.parametrize("command", ["train", "evaluate", "generate", "info", "gradcheck", "serve"])
def test_every_help_has_examples_and_the_exit_codes(capsys, command):
    code, out, _ = main(capsys, command, "--help")
    assert code == 0 and "examples:\n  scratchlstm " + command in out and "exit codes:" in out


def test_every_setting_is_an_option_with_its_range_and_a_no_form(capsys):
    """Each field of the four configs is a `train` option named after it; booleans have a --no-
    form; numbers show their range."""
    _, out, _ = main(capsys, "train", "--help")
    text = " ".join(out.split())
    for cls in (DataConfig, LSTMConfig, TransformerConfig, TrainConfig):
        for info in describe_fields(cls):
            assert info.flag in out, info.flag
            if info.kind is bool:
                assert "--no-" + info.flag[2:] in out, info.flag
    assert "learning rate, > 0 (default 0.002)" in text
    assert "dropout probability, in [0, 1) (default lstm 0.2, transformer 0.1)" in text


def test_recipe_then_command_line_and_the_no_form(tmp_path):
    """A recipe sets tie_weights; --no-tie-weights on the command line wins over it."""
    recipe = tmp_path / "r.py"
    recipe.write_text("model = dict(embed_dim=16, hidden_dim=16, tie_weights=True)\ntrain = dict(lr=0.01)\n")
    args = cli.build_parser().parse_args(["train", "--config", str(recipe), "--no-tie-weights", "--lr", "0.5"])
    run = cli.run_config_from_args(args)
    assert run.model.tie_weights is False and run.model.hidden_dim == 16 and run.train.lr == 0.5
    args = cli.build_parser().parse_args(["train", "--config", str(recipe)])
    assert cli.run_config_from_args(args).model.tie_weights is True


def test_a_missing_corpus_says_what_to_do_on_the_command_line(capsys, tmp_path):
    """Not "pass data_dir=..." (a Python argument): the options --download and --data-dir."""
    code, _, err = main(capsys, "train", "--data", "wikitext2", "--data-dir", tmp_path, "--out", tmp_path / "r")
    assert code == cli.EXIT_USAGE and "--download" in err and "--data-dir" in err
    assert str(tmp_path / "wikitext-2") in err


def test_download_fetches_a_missing_named_corpus(capsys, monkeypatch, tmp_path):
    """`train --download` fetches a named corpus into the data folder (here from a file:// URL,
    checked against its sha256) and trains on it; without --download nothing is fetched."""
    from scratchlstm.text.corpus import CORPORA, CorpusSpec, sha256_of

    source = tmp_path / "all.txt"
    source.write_text(TEXT.replace(". ", ".\n"))
    spec = CorpusSpec(name="tiny", folder="tiny", files={s: "all.txt" for s in ("train", "valid", "test")},
                      level="char", char_split=0.8, urls={"all.txt": source.as_uri()},
                      sha256={"all.txt": sha256_of(source)})
    monkeypatch.setitem(CORPORA, "tiny", spec)
    args = ["train", "--data", "tiny", "--data-dir", tmp_path / "data", *TINY, "--epochs", "1",
            "--max-steps-per-epoch", "2", "--out", tmp_path / "run"]
    code, _, err = main(capsys, *args)
    assert code == cli.EXIT_USAGE and "--download" in err and not (tmp_path / "data").exists()
    code, out, err = main(capsys, *args, "--download")
    assert code == 0, err
    assert (tmp_path / "data" / "tiny" / "all.txt").read_text() == source.read_text()


def test_info_describes_a_checkpoint(capsys, corpus, tmp_path):
    """`scratchlstm info`: model, tokenizer, data and training settings, best epoch, metrics,
    file size; --json for programs."""
    out_dir = tmp_path / "run"
    assert main(capsys, "train", "--data", corpus, *TINY, "--epochs", "2", "--max-steps-per-epoch", "3",
                "--max-chars", "1500", "--out", out_dir)[0] == 0
    code, out, _ = main(capsys, "info", out_dir / "best.npz")
    assert code == 0
    for words in ("1-layer LSTM, 16 units, embedding 8", "char, vocabulary", "max_chars=1,500",
                  "epochs=2", "best epoch", "valid loss", "bits/char", "kB", "resumes at epoch 3"):
        assert words in out, words
    code, out, _ = main(capsys, "info", out_dir / "last.npz", "--json")
    d = json.loads(out)
    assert d["model"]["config"]["hidden_dim"] == 16 and d["tokenizer"]["kind"] == "char"
    assert d["data"]["max_chars"] == 1500 and d["train"]["epochs"] == 2 and d["epochs_run"] == 2
    assert d["size_bytes"] == (out_dir / "last.npz").stat().st_size and d["best_epoch"] in (1, 2)
    code, _, err = main(capsys, "info", tmp_path / "nothing.npz")
    assert code == cli.EXIT_USAGE and "nothing.npz" in err


def test_settings_travel_under_one_name(capsys, corpus, tmp_path):
    """The flags given (--num-layers, --word-mode, --max-chars, --plateau-factor) are the keys of
    the checkpoint's model_config, data_config and train_config, and a resume reads them back."""
    out_dir = tmp_path / "run"
    args = ["train", "--data", corpus, "--tokenizer", "word", "--word-mode", "cased", "--min-freq", "1",
            "--embed-dim", "8", "--hidden-dim", "8", "--num-layers", "1", "--batch-size", "4", "--bptt", "5",
            "--plateau-factor", "0.5", "--max-chars", "2000", "--epochs", "1", "--samples", "0", "--out", out_dir]
    assert main(capsys, *args)[0] == 0
    meta = load_checkpoint(out_dir / "last.npz")
    assert meta.model_config["num_layers"] == 1
    m = meta.user_meta
    assert m["data_config"]["word_mode"] == "cased" and m["data_config"]["max_chars"] == 2000
    assert m["train_config"]["plateau_factor"] == 0.5
    assert main(capsys, "train", "--resume", out_dir / "last.npz", "--epochs", "2", "--samples", "0")[0] == 0
    again = load_checkpoint(out_dir / "last.npz").user_meta
    assert again["data_config"] == m["data_config"] and again["epoch"] == 3
    code, _, err = main(capsys, "train", "--resume", out_dir / "last.npz", "--word-mode", "whitespace")
    assert code == cli.EXIT_USAGE and "--word-mode whitespace conflicts with" in err


# ---------------------------------------------------------------------------------------------
# The transformer through every command
# ---------------------------------------------------------------------------------------------
def test_a_transformer_trains_generates_evaluates_and_is_described(capsys, corpus, tmp_path):
    out_dir = tmp_path / "t"
    code, out, err = main(capsys, "train", "--model", "transformer", "--tokenizer", "char", "--data", corpus,
                          "--d-model", "16", "--n-heads", "2", "--n-layers", "1", "--block-size", "12",
                          "--bptt", "12", "--batch-size", "4", "--epochs", "1", "--max-steps-per-epoch", "3",
                          "--samples", "1", "--out", out_dir)
    assert code == 0, err
    assert "TransformerLanguageModel" in out and "sample 1:" in out
    long_prompt = "the cat sat on the mat and the dog sat on the log"      # longer than the context
    code, out, err = main(capsys, "generate", "--checkpoint", out_dir / "best.npz", "--prompt", long_prompt,
                          "--max-new-tokens", "5", "--seed", "0")
    assert code == 0 and out.startswith(long_prompt), err
    code, out, err = main(capsys, "evaluate", "--checkpoint", out_dir / "best.npz", "--split", "valid")
    assert code == 0 and "using 12" in out and "perplexity" in out, err        # its own corpus, bptt cut
    code, out, _ = main(capsys, "info", out_dir / "best.npz")
    assert code == 0 and "transformer, 1 blocks, d_model 16, 2 heads, context 12" in out
    code, _, err = main(capsys, "train", "--resume", out_dir / "last.npz", "--model", "lstm")
    assert code == cli.EXIT_USAGE and "--model lstm conflicts with" in err
    code, _, err = main(capsys, "train", "--model", "transformer", "--hidden-dim", "8", "--out", tmp_path / "x")
    assert code == cli.EXIT_USAGE and "--hidden-dim is an option of the lstm model" in err
    code, _, err = main(capsys, "train", "--model", "transformer", "--block-size", "8", "--out", tmp_path / "x")
    assert code == cli.EXIT_USAGE and "--bptt 35 is longer than the transformer's --block-size 8" in err
    code, _, err = main(capsys, "train", "--model", "transformer", "--data", corpus, "--bptt", "12",
                        "--block-size", "12", "--functional", "reading", "--out", tmp_path / "x")
    assert code == cli.EXIT_USAGE and "--functional" in err and "transformer" in err


def test_the_default_output_folder_names_a_transformer(capsys):
    args = cli.build_parser().parse_args(["train", "--model", "transformer", "--tokenizer", "char",
                                          "--bptt", "64"])
    assert cli.run_config_from_args(args).out_dir() == Path("runs") / "covid-char-transformer"


# ---------------------------------------------------------------------------------------------
# The trainer: schedules through hooks; progress and one summary
# ---------------------------------------------------------------------------------------------
def tiny_setup():
    tok = CharTokenizer().fit(TEXT)
    ids = numpy.array(tok.encode(TEXT))
    n = len(ids)
    data = {"train": ids[: int(0.8 * n)], "valid": ids[int(0.8 * n): int(0.9 * n)], "test": ids[int(0.9 * n):]}
    return LSTMLanguageModel(tok.vocab_size, 8, 16, 1), tok, data


class RecordingSchedule(Schedule):
    """A schedule of the user's own: the trainer must drive it like the built-in ones."""

    def __init__(self):
        self.steps, self.epochs = 0, []

    def on_step(self):
        self.steps += 1

    def on_epoch_end(self, epoch, valid_loss):
        self.epochs.append((epoch, valid_loss))


def test_the_trainer_drives_every_schedule_through_the_same_hooks():
    model, tok, data = tiny_setup()
    trainer = Trainer(model, data, dict(epochs=2, batch_size=4, bptt=10, max_steps_per_epoch=3,
                                        progress=False), log=None)
    trainer.scheduler = RecordingSchedule()
    trainer.fit()
    assert trainer.scheduler.steps == 6
    assert [e for e, _ in trainer.scheduler.epochs] == [1, 2]
    assert [v for _, v in trainer.scheduler.epochs] == [row["valid_loss"] for row in trainer.history]


def test_progress_shows_elapsed_eta_rate_and_validation_and_fits_80_columns(monkeypatch, capsys):
    """With the bar on, every redraw fits 80 columns and shows elapsed < remaining, the tokens
    per second and the loss; validation has its own bar; the run prints one summary line."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr("scratchlstm.progress.MIN_INTERVAL", 0.0)      # redraw at every step
    model, tok, data = tiny_setup()
    lines = []
    trainer = Trainer(model, data, dict(epochs=1, batch_size=4, eval_batch_size=2, bptt=10,
                                        max_steps_per_epoch=40, progress=True), log=lines.append)
    trainer.fit()
    drawn = [part for part in re.split(r"[\r\n]", capsys.readouterr().err) if part.strip()]
    assert drawn and max(len(part) for part in drawn) <= 80
    assert any(re.search(r"epoch 1 +\d+%\|.*\| \d+/40 \[\d\d:\d\d<\d\d:\d\d, loss [\d.]+ ppl [\d.]+ [\d,]+ tok/s\]",
                         part) for part in drawn), drawn[:5]
    assert any(part.startswith("epoch 1: valid") for part in drawn)
    assert any(part.startswith("best epoch 1: test") for part in drawn)
    assert sum(line.startswith("best epoch") for line in lines) == 1


def _read_pty(fd, proc, timeout):
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:               # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    return b"".join(chunks).decode("utf-8", "replace")


def test_the_cli_progress_line_fits_a_real_80_column_terminal(corpus, tmp_path):
    """`scratchlstm train` in a pseudo-terminal of 80 x 24: no line of what it draws is wider
    than 80 columns (a wider one wraps, and every redraw leaves a stale copy)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1", TERM="xterm")
    env.pop("COLUMNS", None)
    corpus.write_text(corpus.read_text() * 12)                 # an epoch of a second or so: several redraws
    proc = subprocess.Popen([sys.executable, "-m", "scratchlstm", "train", "--data", str(corpus), *TINY,
                             "--hidden-dim", "64", "--epochs", "2", "--max-steps-per-epoch", "600",
                             "--out", str(tmp_path / "run")],
                            stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    try:
        text = _read_pty(leader, proc, timeout=120)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        os.close(leader)
    assert proc.returncode == 0, text[-2000:]
    visible = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    drawn = [part for part in re.split(r"[\r\n]", visible) if part.strip()]
    bars = [part for part in drawn if "|" in part and "/600 [" in part]
    assert bars, drawn[:10]
    own = [part for part in drawn if str(tmp_path) not in part and not part.startswith("LSTMLanguageModel(")]
    assert max(len(part) for part in own) <= 80, max(own, key=len)   # (not counting the user's paths)
    assert max(len(part) for part in bars) <= 80


# ---------------------------------------------------------------------------------------------
# Activations in generation
# ---------------------------------------------------------------------------------------------
def test_generated_activations_are_those_of_one_forward_over_the_text():
    """The units recorded while generating (one token at a time) equal those of a single
    forward pass over prompt + generated tokens, and recording does not change the text."""
    tok = CharTokenizer().fit(TEXT)
    model = LSTMLanguageModel(tok.vocab_size, 8, 12, 2, seed=1)
    tokens = list(stream(model, tok, "the cat", 9, temperature=1.0, seed=4, activations=True))
    plain = list(stream(model, tok, "the cat", 9, temperature=1.0, seed=4))
    assert [t.id for t in tokens] == [t.id for t in plain] and plain[0].activations is None
    ids = numpy.array(tok.encode("the cat") + [t.id for t in tokens])[:, None]
    model(ids)
    n = len(tok.encode("the cat"))
    for k, token in enumerate(tokens):
        for layer, lstm_layer in enumerate(model.lstm.layers):
            acts = lstm_layer.activations()
            for name in "hc":
                numpy.testing.assert_allclose(token.activations[name][layer], acts[name][n + k, 0], atol=6e-5)
            for name in "ifgo":
                assert abs(token.activations[name][layer] - float(acts[name][n + k, 0].mean())) < 6e-5


def test_activations_need_an_lstm():
    from scratchlstm.transformer import TransformerLanguageModel

    tok = CharTokenizer().fit(TEXT)
    model = TransformerLanguageModel(tok.vocab_size, 8, 2, 1, block_size=4)
    with pytest.raises(ValueError, match="needs an LSTM"):
        next(stream(model, tok, "the", 2, activations=True))
    gru = LSTMLanguageModel(tok.vocab_size, 8, 8, 1, cell="gru")
    assert gru.activation_snapshot() is None and not gru.has_units


# ---------------------------------------------------------------------------------------------
# Installing the wheel
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_wheel_installs_and_runs_from_any_folder(tmp_path):
    """Build the wheel, install it (not editable) into a fresh virtual environment, and from
    another folder: `scratchlstm --version`, load_corpus("covid") (package data, no download),
    one short training run on the shipped corpus with the CLI's defaults, and `info` on its
    checkpoint. The dependencies (numpy, regex, matplotlib, tqdm) come from this environment, so
    the test needs no network; everything of scratchlstm comes from the wheel."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(REPO / "scratchlstm", source / "scratchlstm",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    # no PYTHONPATH: pip would take a scratchlstm found there for one already installed
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SCRATCHLSTM_DATA")}
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
                   check=True, capture_output=True, timeout=300, env=clean, cwd=tmp_path)
    wheel = next(wheels.glob("scratchlstm-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300, env=clean, cwd=tmp_path)
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    deps = sorted({str(Path(m.__file__).resolve().parents[1]) for m in
                   (numpy, __import__("regex"), __import__("matplotlib"), __import__("tqdm"))})
    (site / "_scratchlstm_test_deps.pth").write_text("\n".join(deps) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict(clean, OPENBLAS_NUM_THREADS="1", SCRATCHLSTM_DATA=str(tmp_path / "empty-data-folder"))

    def run(*args, timeout=300):
        r = subprocess.run(args, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        return r.stdout

    script = venv / "bin" / "scratchlstm"
    assert run(str(script), "--version").strip() == f"scratchlstm {scratchlstm.__version__}"
    where = run(str(python), "-c", "import scratchlstm, scratchlstm.text as t; s = t.load_corpus('covid'); "
                                   "print(scratchlstm.__file__); print(len(s['train']))").split()
    assert where[0].startswith(str(site)) and int(where[1]) > 1_000_000
    out = run(str(python), "-m", "scratchlstm", "train", "--max-chars", "20000", "--epochs", "1",
              "--max-steps-per-epoch", "3", "--embed-dim", "16", "--hidden-dim", "16", "--samples", "0")
    assert "data: covid" in out and "best epoch 1" in out
    assert (elsewhere / "runs" / "covid-word" / "best.npz").is_file()
    assert "2-layer LSTM, 16 units" in run(str(script), "info", "runs/covid-word/best.npz")
