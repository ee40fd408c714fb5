"""Lesson 9 exercises: the training API, perplexity, checkpoints, resuming and the CLI."""
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from scratchlstm import LSTMLanguageModel
from scratchlstm.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from scratchlstm.text import CharTokenizer
from scratchlstm.training import (Trainer, TrainConfig, TrainingDiverged, bits_per_char, evaluate,
                                  perplexity)

REPO = Path(__file__).resolve().parents[1]
TEXT = ("the cat sat on the mat. the dog sat on the log. " * 40
        + "a bird sang in the tree and the cat looked up. " * 20)


def tiny_setup(dropout=0.0, seed=0):
    tok = CharTokenizer().fit(TEXT)
    ids = numpy.array(tok.encode(TEXT))
    n = len(ids)
    data = {"train": ids[: int(0.8 * n)], "valid": ids[int(0.8 * n): int(0.9 * n)], "test": ids[int(0.9 * n):]}
    model = LSTMLanguageModel(tok.vocab_size, 16, 32, 2, dropout=dropout, seed=seed)
    return model, tok, data


def test_uniform_model_has_perplexity_equal_to_vocabulary_size():
    """A model whose logits are all equal assigns 1/V to every token: perplexity is exactly V."""
    model = LSTMLanguageModel(37, 4, 4)
    model.decoder.weight.data[...] = 0.0
    model.decoder.bias.data[...] = 0.0
    ids = numpy.random.default_rng(0).integers(0, 37, 500)
    assert math.isclose(perplexity(evaluate(model, ids, batch_size=5, bptt=10)), 37, rel_tol=1e-5)


def test_training_overfits_a_tiny_corpus(tmp_path):
    """A repetitive text is learned almost perfectly: train perplexity falls far below V (~20).

    It also writes the promised files next to the checkpoint.
    """
    model, tok, data = tiny_setup()
    config = TrainConfig(epochs=25, batch_size=4, eval_batch_size=2, bptt=20, lr=0.01, clip=1.0, progress=False)
    trainer = Trainer(model, data, config, tokenizer=tok, out_dir=tmp_path, log=None)
    history = trainer.fit()
    assert history[0]["train_ppl"] > 5
    assert history[-1]["train_ppl"] < 1.3
    assert trainer.result["test_ppl"] < 2.0
    for name in ("best.npz", "last.npz", "history.json", "history.csv", "curves.png"):
        assert (tmp_path / name).exists(), name
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["result"]["best_epoch"] == trainer.best_epoch


def test_cosine_warmup_longer_than_the_run_is_cut_to_the_run(tmp_path):
    """A recipe's 100 warm-up steps on a 2-epoch run of a few windows (a smoke test on a slice of
    the corpus): the warm-up is cut to the run's length, so the learning rate rises linearly to
    its peak on the very last step instead of the run being refused."""
    model, tok, data = tiny_setup()
    config = TrainConfig(epochs=2, batch_size=4, eval_batch_size=2, bptt=20, lr=0.01, schedule="cosine",
                         warmup_steps=100, max_steps_per_epoch=3, progress=False)
    trainer = Trainer(model, data, config, tokenizer=tok, out_dir=tmp_path, log=None)
    lrs = []
    original_step = trainer.optimizer.step

    def recording_step():
        lrs.append(trainer.optimizer.lr)
        original_step()

    trainer.optimizer.step = recording_step
    trainer.fit()
    assert len(lrs) == 6
    assert numpy.allclose(lrs, [0.01 * k / 6 for k in range(1, 7)])


class InterruptingTrainer(Trainer):
    """Presses Ctrl-C (a real SIGINT) after a given global step."""

    interrupt_at = 7

    def train_step(self, inputs, targets):
        loss = super().train_step(inputs, targets)
        if self.global_step == self.interrupt_at:
            os.kill(os.getpid(), signal.SIGINT)
        return loss


def test_resume_after_ctrl_c_matches_an_uninterrupted_run(tmp_path):
    """Interrupt mid-epoch with Ctrl-C, resume from last.npz, and finish: the losses of every
    epoch equal those of a run that was never interrupted (dropout and variable BPTT included,
    so the random streams must be restored too)."""
    config = dict(epochs=3, batch_size=4, eval_batch_size=2, bptt=12, variable_bptt=True, lr=0.005,
                  progress=False, max_steps_per_epoch=5)
    model, tok, data = tiny_setup(dropout=0.2)
    straight = Trainer(model, data, config, tokenizer=tok, out_dir=tmp_path / "a", log=None)
    straight.fit()

    model, tok, data = tiny_setup(dropout=0.2)
    first = InterruptingTrainer(model, data, config, tokenizer=tok, out_dir=tmp_path / "b", log=None)
    first.fit()
    assert first.result["interrupted"] and first.epoch == 2 and first.window == 2
    resumed = Trainer.resume(tmp_path / "b" / "last.npz", data, log=None)
    resumed.fit()
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-6)
        assert math.isclose(a["valid_loss"], b["valid_loss"], rel_tol=1e-6)
    assert math.isclose(straight.result["test_loss"], resumed.result["test_loss"], rel_tol=1e-6)


def test_an_interrupted_epoch_counts_its_time_before_the_interruption(tmp_path):
    """The epoch's seconds (and so its tokens/s) cover both sittings: the time trained before
    Ctrl-C travels in last.npz and is added to the time after the resume."""
    config = dict(epochs=2, batch_size=4, eval_batch_size=2, bptt=12, lr=0.005, progress=False,
                  max_steps_per_epoch=5)
    model, tok, data = tiny_setup()
    first = InterruptingTrainer(model, data, config, tokenizer=tok, out_dir=tmp_path, log=None)
    first.fit()
    before = first.epoch_seconds
    assert first.result["interrupted"] and first.epoch == 2 and before > 0
    resumed = Trainer.resume(tmp_path / "last.npz", data, log=None)
    assert resumed.epoch_seconds == before
    resumed.fit()
    row = resumed.history[-1]
    assert row["epoch"] == 2 and row["seconds"] > before
    assert math.isclose(row["tokens_per_s"] * row["seconds"], 5 * 4 * 12)   # the whole epoch's tokens


def test_nan_guard_names_the_step_and_keeps_the_weights(tmp_path):
    """A NaN in the forward pass (here: a poisoned embedding row) stops training at once with a
    message naming the step, before the optimizer can spread NaN into the other weights; the
    checkpoint of the last finished epoch is kept."""
    model, tok, data = tiny_setup()
    trainer = Trainer(model, data, dict(epochs=2, batch_size=4, bptt=10, progress=False),
                      tokenizer=tok, out_dir=tmp_path, log=None)
    trainer.config.epochs = 1
    trainer.fit()                                     # one good epoch -> last.npz
    good = (tmp_path / "last.npz").read_bytes()
    trainer.config.epochs = 2
    model.embedding.weight.data[tok.encode("t")[0]] = numpy.nan
    decoder_before = model.decoder.weight.data.copy()
    with pytest.raises(TrainingDiverged, match=r"epoch 2, step 1 .*last good checkpoint"):
        trainer.fit()
    assert numpy.array_equal(model.decoder.weight.data, decoder_before)
    assert (tmp_path / "last.npz").read_bytes() == good


def test_checkpoint_round_trip(tmp_path):
    """save -> load gives the same weights, config and tokenizer; predictions are identical."""
    model, tok, _ = tiny_setup()
    path = save_checkpoint(tmp_path / "m.npz", model, tok)
    loaded, loaded_tok = load_model(path)
    ids = numpy.array(tok.encode("the cat"))[:, None]
    assert numpy.array_equal(model.eval()(ids)[0], loaded(ids)[0])
    assert loaded_tok.decode(loaded_tok.encode("the dog")) == "the dog"


def test_corrupt_and_foreign_files_give_clear_errors(tmp_path):
    """Truncated files, other formats and other .npz files are refused with a clear message."""
    model, tok, _ = tiny_setup()
    good = save_checkpoint(tmp_path / "good.npz", model, tok).read_bytes()
    (tmp_path / "truncated.npz").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.npz").write_text("hello")
    numpy.savez(tmp_path / "other.npz", x=numpy.zeros(3))
    for name, pattern in (("truncated.npz", "truncated"), ("text.npz", "not an .npz"),
                          ("other.npz", "not a scratchlstm checkpoint")):
        with pytest.raises(CheckpointError, match=pattern):
            load_checkpoint(tmp_path / name)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.npz")


def test_checkpoint_that_does_not_fit_the_model(tmp_path):
    """Weights of a 32-unit model cannot go into a 16-unit one: the error names the parameter."""
    model, tok, _ = tiny_setup()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.npz", model, tok))
    with pytest.raises(CheckpointError, match="lstm.layers.0.Wx"):
        ckpt.load_into(LSTMLanguageModel(tok.vocab_size, 16, 16, 2))


def test_checkpoint_writes_are_atomic(tmp_path, monkeypatch):
    """If writing fails half-way, the previous checkpoint is untouched and no temp file is left."""
    model, tok, _ = tiny_setup()
    path = save_checkpoint(tmp_path / "m.npz", model, tok)
    before = path.read_bytes()

    def failing_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("scratchlstm.checkpoint.np.savez", failing_savez)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, tok)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_checkpoints_never_need_pickle(tmp_path):
    """Every array in a checkpoint loads with allow_pickle=False (no executable content)."""
    model, tok, data = tiny_setup()
    trainer = Trainer(model, data, dict(epochs=1, batch_size=4, bptt=10, progress=False,
                                        max_steps_per_epoch=2), tokenizer=tok, out_dir=tmp_path, log=None)
    trainer.fit()
    with numpy.load(tmp_path / "last.npz", allow_pickle=False) as archive:
        assert all(archive[name].dtype != object for name in archive.files)


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "scratchlstm", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


def test_cli_end_to_end(tmp_path):
    """train -> evaluate -> generate on a small text file, through the command line."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT.replace(". ", ".\n"))   # one sentence per line: split by lines
    out = tmp_path / "run"
    r = run_cli("train", "--data", str(corpus), "--tokenizer", "char", "--embed-dim", "8",
                "--hidden-dim", "16", "--layers", "1", "--epochs", "2", "--batch-size", "4",
                "--bptt", "10", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "epoch   2" in r.stdout and (out / "best.npz").exists()
    r = run_cli("evaluate", "--checkpoint", str(out / "best.npz"), "--data", str(corpus))
    assert r.returncode == 0, r.stderr
    assert "perplexity" in r.stdout
    r = run_cli("generate", "--checkpoint", str(out / "best.npz"), "--prompt", "the ", "--seed", "1",
                "--max-new-tokens", "20")
    assert r.returncode == 0 and r.stdout.startswith("the ")


def test_cli_word_mode_whitespace_keeps_tokens_as_written(tmp_path):
    """`--word-mode whitespace` splits on spaces only (WikiText-2 and PTB come pre-tokenised), so
    "Mat." and "mat" stay two different words, where basic_english would lower-case and split off
    the full stop."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("The cat sat on the Mat. the dog sat on the mat\n" * 30)
    out = tmp_path / "run"
    r = run_cli("train", "--data", str(corpus), "--tokenizer", "word", "--word-mode", "whitespace",
                "--min-freq", "1", "--embed-dim", "8", "--hidden-dim", "8", "--layers", "1",
                "--epochs", "1", "--batch-size", "2", "--bptt", "5", "--out", str(out))
    assert r.returncode == 0, r.stderr
    _, tok = load_model(out / "best.npz")
    assert tok.decode(tok.encode("The Mat. mat")) == "The Mat. mat"
    assert len(set(tok.encode("Mat. mat"))) == 2


def test_cli_bad_arguments(tmp_path):
    """Bad input exits with code 2 and a one-line explanation, never a traceback."""
    r = run_cli("train", "--data", str(tmp_path / "nowhere"), "--tokenizer", "char")
    assert r.returncode == 2 and "error:" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("train", "--epochs", "0")
    assert r.returncode == 2 and "positive integer" in r.stderr
    r = run_cli("generate", "--checkpoint", str(tmp_path / "missing.npz"))
    assert r.returncode == 2 and "no checkpoint" in r.stderr
    r = run_cli("train", "--device", "tpu")
    assert r.returncode == 2


def test_cli_gradcheck():
    """`python -m scratchlstm gradcheck` checks a 2-layer model and reports PASSED."""
    r = run_cli("gradcheck", "--max-checks", "20")
    assert r.returncode == 0 and "PASSED" in r.stdout


# ---------------------------------------------------------------------------------------------
# Lesson 9 exercises (worked solutions)
# ---------------------------------------------------------------------------------------------
def test_exercise_9_1_bits_per_character_across_tokenizers():
    """Exercise 9.1: a word-level model reaches validation perplexity 200 on a text of 30,000
    tokens and 150,000 characters. What is its bits per character, and which per-character
    perplexity must a character-level model reach to be exactly as good?

    The loss is ln 200 nats per token; over 30,000 tokens that is 30,000 * log2(200) bits in all,
    spread over 150,000 characters: log2(200) / 5 = 1.5288 bits per character. A character-level
    model with the same bpc has loss bpc * ln 2 nats per character, i.e. perplexity 2**bpc =
    200**(1/5) = 2.885: a word of five characters costs the same as 200 equally likely words.
    """
    bpc = bits_per_char(math.log(200), n_tokens=30_000, n_chars=150_000)
    assert math.isclose(bpc, math.log2(200) / 5, rel_tol=1e-12)
    assert round(bpc, 4) == 1.5288
    char_ppl = perplexity(bpc * math.log(2))
    assert math.isclose(char_ppl, 200 ** (1 / 5), rel_tol=1e-12)
    assert round(char_ppl, 3) == 2.885


def test_exercise_9_2_steps_per_epoch():
    """Exercise 9.2: how many optimizer steps does one full epoch take with batch_size=20, bptt=35
    on a stream of 10,000 tokens? Check the formula against Trainer.steps_per_epoch(), and work out
    the number for batch_size=32, bptt=50 on the whole COVID training split.

    batchify gives T = N // B rows (10,000 // 20 = 500). The last row is only a target, so T - 1 =
    499 input rows are cut into windows of 35: ceil(499 / 35) = 15 steps (14 full windows and one
    of 9). In general steps = ceil((N // B - 1) / bptt); for the COVID split (about 1.2 million
    characters) that is roughly 1.2e6 / (32 * 50) ~ 750 steps. ``max_steps_per_epoch`` simply
    caps the count.
    """
    from scratchlstm.data import prepare_data
    from scratchlstm.text import num_windows

    def steps(n, batch_size, bptt):
        return math.ceil((n // batch_size - 1) / bptt)

    ids = numpy.arange(10_000) % 7
    model = LSTMLanguageModel(7, 4, 4)
    trainer = Trainer(model, {"train": ids}, dict(batch_size=20, bptt=35), log=None)
    assert steps(10_000, 20, 35) == 15 == trainer.steps_per_epoch()
    capped = Trainer(model, {"train": ids}, dict(batch_size=20, bptt=35, max_steps_per_epoch=4), log=None)
    assert capped.steps_per_epoch() == 4

    tok = CharTokenizer()
    covid, _ = prepare_data("covid", tok)
    n = covid["train"].size
    covid_trainer = Trainer(LSTMLanguageModel(tok.vocab_size, 4, 4), {"train": covid["train"]},
                            dict(batch_size=32, bptt=50), log=None)
    assert covid_trainer.steps_per_epoch() == steps(n, 32, 50) == num_windows(n // 32, 50)
    assert abs(steps(n, 32, 50) - n / (32 * 50)) < 2          # one window per 1,600 characters


def test_exercise_9_3_best_and_last_checkpoints(tmp_path):
    """Exercise 9.3: show that the weights in best.npz reproduce exactly the lowest validation
    loss of the history, and those in last.npz the last one.

    The trainer evaluates on batchify(valid, eval_batch_size) with windows of bptt; loading a
    checkpoint and calling evaluate with the same settings recomputes the same number from the
    same weights. best.npz is rewritten only when validation improves, last.npz after every epoch.
    A learning rate this high makes validation bounce, so the best epoch is not the last one.
    """
    model, tok, data = tiny_setup()
    config = TrainConfig(epochs=6, batch_size=4, eval_batch_size=2, bptt=10, lr=0.05, clip=None,
                         schedule="none", progress=False, max_steps_per_epoch=8)
    trainer = Trainer(model, data, config, tokenizer=tok, out_dir=tmp_path, log=None)
    history = trainer.fit()
    valid = [row["valid_loss"] for row in history]
    best_model, _ = load_model(tmp_path / "best.npz")
    last_model, _ = load_model(tmp_path / "last.npz")
    assert math.isclose(evaluate(best_model, data["valid"], 2, 10), min(valid), rel_tol=1e-6)
    assert math.isclose(evaluate(last_model, data["valid"], 2, 10), valid[-1], rel_tol=1e-6)
    assert trainer.best_epoch == 1 + valid.index(min(valid)) < len(history)   # best is not last
    assert math.isclose(trainer.result["valid_loss"], min(valid), rel_tol=1e-6)


def test_exercise_9_4_resume_at_an_epoch_boundary(tmp_path):
    """Exercise 9.4: with dropout on, train 2 epochs, resume from last.npz with epochs=3, and
    show that all three epochs equal a run trained straight for 3 epochs.

    last.npz stores weights, Adam's moments and step count, the schedule and the position; the
    dropout masks are seeded from (seed, global step), so epoch 3 sees the same masks whether or
    not the run stopped in between. Any lost piece of state would change the third epoch's losses.
    """
    config = dict(epochs=3, batch_size=4, eval_batch_size=2, bptt=12, lr=0.005, progress=False,
                  max_steps_per_epoch=5)
    model, tok, data = tiny_setup(dropout=0.3)
    straight = Trainer(model, data, config, tokenizer=tok, log=None)       # nothing written to disk
    straight.fit()

    model, tok, data = tiny_setup(dropout=0.3)
    first = Trainer(model, data, dict(config, epochs=2), tokenizer=tok, out_dir=tmp_path / "split", log=None)
    first.fit()
    resumed = Trainer.resume(tmp_path / "split" / "last.npz", data, log=None, epochs=3)
    assert resumed.epoch == 3 and resumed.window == 0 and len(resumed.history) == 2
    resumed.fit()
    assert len(resumed.history) == 3
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-6)
        assert math.isclose(a["valid_loss"], b["valid_loss"], rel_tol=1e-6)


def test_resume_with_a_smaller_learning_rate(tmp_path):
    """After a divergence the advice is to lower the learning rate: Trainer.resume(..., lr=...)
    must apply it to the optimizer, not only to the stored config."""
    model, tok, data = tiny_setup()
    Trainer(model, data, dict(epochs=1, batch_size=4, bptt=10, lr=0.01, progress=False, max_steps_per_epoch=2),
            tokenizer=tok, out_dir=tmp_path, log=None).fit()
    resumed = Trainer.resume(tmp_path / "last.npz", data, log=None, lr=1e-4, epochs=2)
    assert resumed.optimizer.lr == 1e-4 and resumed.config.lr == 1e-4


# ----------------------------------------------------------------------------------------------
# The workbook ladder (train.py): values, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('train_step',))
def test_ladder(ladder, name):
    ladder(name)
