"""Fault suite for training, checkpoints and the command line: bad options, signals, kills, full
disks and damaged files. Whatever happens, the user gets a one-line answer with its own exit code
and keeps the last good checkpoint.

Most checks call the real CLI (``python -m scratchlstm`` in a subprocess, or ``cli.main`` in this
process where only the exit code and message matter); faults that cannot be timed from outside
(a kill during the write of a checkpoint, a second signal during the save) are injected by a
small wrapper around the same CLI.
"""
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy
import pytest

from conftest import cli_main as main  # the shared CLI runner
from scratchlstm import LSTMLanguageModel, cli
from scratchlstm.checkpoint import (CheckpointError, NonFiniteWeightsError, OutputError, load_checkpoint,
                                    load_model, save_checkpoint)
from scratchlstm.generation import stream
from scratchlstm.gradcheck import check_model
from scratchlstm.text import BPETokenizer, CharTokenizer, load_tokenizer, tokenizer_from_dict
from scratchlstm.training import Trainer, TrainConfig, TrainingDiverged, evaluate

REPO = Path(__file__).resolve().parents[1]
from conftest import CLI_TEXT as TEXT, TINY_CLI as TINY  # noqa: E402 - the shared tiny CLI run


@pytest.fixture
def sighup_default():
    """SIGHUP at its default disposition for the test (and the CLI it starts). Under ``nohup``
    the test process inherits SIGHUP *ignored*, and the Trainer rightly leaves an ignored SIGHUP
    ignored, so a SIGHUP test would measure nohup instead of the handler."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGHUP, previous)


def run_cli(*args, timeout=120, **kwargs):
    """``python -m scratchlstm ARGS`` in a subprocess (unbuffered, so output arrives as printed)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "scratchlstm", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout, **kwargs)


def run_wrapped(code: str, *args, timeout=120):
    """The CLI in a subprocess, after ``code`` has patched something (a fault injector)."""
    script = textwrap.dedent(code) + "\nimport sys\nfrom scratchlstm import cli\n" \
        f"sys.argv = ['scratchlstm', *{[str(a) for a in args]!r}]\nsys.exit(cli.main())\n"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                          timeout=timeout)




def no_traceback(result):
    text = result.stdout + result.stderr
    assert "Traceback" not in text, text
    return result


def tiny_setup(dropout=0.0):
    tok = CharTokenizer().fit(TEXT)
    ids = numpy.array(tok.encode(TEXT))
    n = len(ids)
    data = {"train": ids[: int(0.8 * n)], "valid": ids[int(0.8 * n): int(0.9 * n)], "test": ids[int(0.9 * n):]}
    return LSTMLanguageModel(tok.vocab_size, 8, 16, 1, dropout=dropout), tok, data


QUICK = dict(batch_size=4, eval_batch_size=2, bptt=10, progress=False, max_steps_per_epoch=4)


def tmp_files(folder):
    return sorted(p.name for p in Path(folder).glob("*.tmp"))


# ---------------------------------------------------------------------------------------------
# 1. Non-finite options and weights
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, option", [
    (["train", "--lr", "nan"], "--lr"), (["train", "--lr", "inf"], "--lr"),
    (["train", "--momentum", "nan"], "--momentum"), (["train", "--momentum", "-5"], "--momentum"),
    (["train", "--weight-decay", "inf"], "--weight-decay"), (["train", "--weight-decay", "-1"], "--weight-decay"),
    (["train", "--clip", "nan"], "--clip"), (["train", "--clip", "inf"], "--clip"),
    (["train", "--dropout", "nan"], "--dropout"), (["train", "--init-range", "nan"], "--init-range"),
    (["train", "--init-range", "-1"], "--init-range"), (["train", "--forget-bias", "inf"], "--forget-bias"),
    (["train", "--plateau-factor", "nan"], "--plateau-factor"), (["train", "--decay-factor", "nan"], "--decay-factor"),
    (["train", "--seed", "-1"], "--seed"), (["train", "--patience", "0"], "--patience"),
    (["generate", "--checkpoint", "x.npz", "--temperature", "nan"], "--temperature"),
    (["generate", "--checkpoint", "x.npz", "--top-p", "nan"], "--top-p"),
    (["generate", "--checkpoint", "x.npz", "--seed", "-1"], "--seed"),
    (["gradcheck", "--tolerance", "nan"], "--tolerance"), (["gradcheck", "--max-checks", "0"], "--max-checks"),
    (["serve", "--checkpoint", "x.npz", "--port", "70000"], "--port"),
])
def test_bad_numbers_are_refused_naming_the_option(capsys, corpus, tmp_path, argv, option):
    """NaN passes "lr <= 0" (every comparison with NaN is false): each float option is checked
    for finiteness and range where it is parsed, and the message names the option. (The rest of
    the command line is a valid one-step run, so a value that slipped through would train.)"""
    if argv[0] == "train":
        argv = [*argv, "--data", corpus, *TINY, "--epochs", "1", "--max-steps-per-epoch", "1",
                "--out", tmp_path / "run"]
    code, out, err = main(capsys, *argv)
    assert code == cli.EXIT_USAGE and option in err and "Traceback" not in err
    assert "PASSED" not in out


@pytest.mark.parametrize("options, name", [
    (dict(lr=math.nan), "lr"), (dict(lr=math.inf), "lr"), (dict(momentum=-5.0), "momentum"),
    (dict(momentum=math.nan), "momentum"), (dict(weight_decay=-1.0), "weight_decay"),
    (dict(clip=math.nan), "clip"), (dict(min_lr=math.nan), "min_lr"), (dict(seed=-1), "seed"),
    (dict(plateau_factor=math.nan), "plateau_factor"), (dict(max_steps_per_epoch=0), "max_steps_per_epoch"),
])
def test_train_config_refuses_non_finite_and_out_of_range_values(options, name):
    """The library checks the same, for configs that come from files or code."""
    with pytest.raises(ValueError, match=f"^{name} "):
        TrainConfig(**options)


@pytest.mark.parametrize("options, name", [
    (dict(dropout=math.nan), "dropout"), (dict(dropout=1.0), "dropout"), (dict(init_range=-1.0), "init_range"),
    (dict(init_range=math.inf), "init_range"), (dict(forget_bias=math.nan), "forget_bias"), (dict(seed=-1), "seed"),
])
def test_model_refuses_non_finite_and_out_of_range_values(options, name):
    with pytest.raises(ValueError, match=name):
        LSTMLanguageModel(10, 4, 4, **options)


def test_weights_that_are_not_finite_are_never_written(tmp_path):
    """save_checkpoint refuses NaN weights, so a diverged model cannot replace the last good file."""
    model, tok, _ = tiny_setup()
    path = save_checkpoint(tmp_path / "last.npz", model, tok)
    good = path.read_bytes()
    model.decoder.bias.data[3] = numpy.nan
    with pytest.raises(NonFiniteWeightsError, match="decoder.bias"):
        save_checkpoint(path, model, tok)
    assert path.read_bytes() == good and tmp_files(tmp_path) == []


def test_nan_update_on_the_last_step_of_an_epoch_keeps_last_npz_good(tmp_path):
    """A NaN learning rate (here forced past validation) poisons the weights on the epoch's last
    step: the non-finite validation loss is divergence, nothing is saved, and the message names
    the last.npz of the previous epoch, which resumes."""
    model, tok, data = tiny_setup()
    trainer = Trainer(model, data, dict(QUICK, epochs=2), tokenizer=tok, out_dir=tmp_path, log=None)
    trainer.config.epochs = 1
    trainer.fit()
    good = (tmp_path / "last.npz").read_bytes()
    trainer.config.epochs = 2
    trainer.config.max_steps_per_epoch = 1              # the poisoned update is the epoch's last
    trainer.optimizer.lr = math.nan
    with pytest.raises(TrainingDiverged) as caught:
        trainer.fit()
    message = str(caught.value)
    assert "valid loss is nan" in message and "not saved" in message
    assert f"last good checkpoint is {tmp_path / 'last.npz'} (resumes at the start of epoch 2)" in message
    assert (tmp_path / "last.npz").read_bytes() == good
    resumed = Trainer.resume(tmp_path / "last.npz", data, log=None)
    assert all(numpy.isfinite(p.data).all() for p in resumed.model.parameters())


def test_nan_guard_does_not_vouch_for_a_file_this_run_did_not_write(tmp_path):
    """A last.npz from some other run in the folder is not "the last good checkpoint"."""
    model, tok, data = tiny_setup()
    (tmp_path / "last.npz").write_bytes(b"not ours")
    model.embedding.weight.data[tok.encode("t")[0]] = numpy.nan
    trainer = Trainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, out_dir=tmp_path, log=None)
    with pytest.raises(TrainingDiverged, match="No checkpoint of this run was saved yet"):
        trainer.fit()


# ---------------------------------------------------------------------------------------------
# 2. A second run into the same folder
# ---------------------------------------------------------------------------------------------
def test_a_second_train_into_the_same_out_is_refused_unless_overwrite(capsys, corpus, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", corpus, *TINY, "--epochs", "1", "--max-steps-per-epoch", "3", "--out", out]
    assert main(capsys, *args)[0] == cli.EXIT_OK
    before = {name: (out / name).read_bytes() for name in ("best.npz", "last.npz", "history.json")}
    code, _, err = main(capsys, *args)
    assert code == cli.EXIT_USAGE
    assert str(out) in err and "--overwrite" in err and "nothing was changed" in err
    assert all((out / name).read_bytes() == data for name, data in before.items())
    code, out_text, _ = main(capsys, *args, "--seed", "3", "--overwrite")
    assert code == cli.EXIT_OK and f"results go to {out}" in out_text
    assert (out / "last.npz").read_bytes() != before["last.npz"]


# ---------------------------------------------------------------------------------------------
# 3. Signals
# ---------------------------------------------------------------------------------------------
class SignallingTrainer(Trainer):
    """Sends itself a signal after a given global step."""

    signal_at = 3
    signum = signal.SIGTERM

    def train_step(self, inputs, targets):
        loss = super().train_step(inputs, targets)
        if self.global_step == self.signal_at:
            os.kill(os.getpid(), self.signum)
        return loss


def test_a_sighup_ignored_by_nohup_stays_ignored(tmp_path):
    """Under ``nohup`` SIGHUP arrives ignored: the run must not take it over, so a closed
    terminal neither stops the run nor kills it, and the disposition is ignored afterwards too."""
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        model, tok, data = tiny_setup()
        trainer = SignallingTrainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, out_dir=tmp_path, log=None)
        trainer.signum, trainer.signal_at = signal.SIGHUP, 2
        trainer.fit()
        assert trainer.result["interrupted"] is False and trainer.result["epochs_run"] == 1
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_a_resumable_checkpoint_like_ctrl_c(tmp_path, signum, sighup_default):
    model, tok, data = tiny_setup()
    trainer = SignallingTrainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, out_dir=tmp_path, log=None)
    trainer.signum = signum
    trainer.signal_at = 2
    trainer.fit()
    assert trainer.result == {"interrupted": True, "signal": signal.Signals(signum).name, "epoch": 1, "step": 2}
    meta = load_checkpoint(tmp_path / "last.npz").user_meta
    assert (meta["epoch"], meta["window"]) == (1, 2)
    resumed = Trainer.resume(tmp_path / "last.npz", data, log=None)
    resumed.fit()
    assert len(resumed.history) == 1 and not resumed.result["interrupted"]


def test_a_second_signal_during_the_save_exits_4_and_keeps_the_previous_checkpoint(corpus, tmp_path):
    """SIGTERM mid-epoch asks for a save; a Ctrl-C that arrives while the archive is being written
    aborts it. That is not "interrupted after saving" (130): exit 4, the temporary file is gone
    and last.npz still holds the previous epoch."""
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(corpus), *TINY, "--epochs", "1", "--max-steps-per-epoch", "4",
                     "--out", str(out)]) == 0
    good = (out / "last.npz").read_bytes()
    r = run_wrapped("""
        import os, signal, numpy
        from scratchlstm import training
        asked = []
        step = training.Trainer.train_step
        def train_step(self, inputs, targets):
            loss = step(self, inputs, targets)
            if self.window == 2 and not asked:
                asked.append(1)
                os.kill(os.getpid(), signal.SIGTERM)      # the first: finish the step and save
            return loss
        training.Trainer.train_step = train_step
        savez = numpy.savez
        def savez_interrupted(*args, **kwargs):
            if asked:
                os.kill(os.getpid(), signal.SIGINT)       # the second arrives mid-write
            return savez(*args, **kwargs)
        numpy.savez = savez_interrupted
        """, "train", "--resume", out / "last.npz", "--epochs", "2")
    no_traceback(r)
    assert r.returncode == cli.EXIT_ABORTED == 4, r.stderr
    assert "aborted by SIGINT after SIGTERM before the checkpoint was saved" in r.stderr
    assert f"last good checkpoint is {out / 'last.npz'}" in r.stderr
    assert (out / "last.npz").read_bytes() == good and tmp_files(out) == []


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_each_signal_mid_epoch_then_resume_through_the_cli(tmp_path, signum, sighup_default):
    """The real CLI, signalled from outside half-way through a long epoch: exit 130 and a
    last.npz in the middle of epoch 1; --resume finishes the run with exit 0."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT.replace(". ", ".\n") * 10)          # an epoch of about 1 s
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "scratchlstm", "train", "--data", str(corpus), *TINY,
                             "--epochs", "1", "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:                 # training starts right after this line
            if line.startswith("train tokens"):
                break
        time.sleep(0.3)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == cli.EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "resume with" in err
    meta = load_checkpoint(out / "last.npz").user_meta
    assert meta["epoch"] == 1 and meta["window"] > 0
    r = no_traceback(run_cli("train", "--resume", out / "last.npz", "--samples", "0"))
    assert r.returncode == 0, r.stderr
    assert f"resuming {out / 'last.npz'} at epoch 1, step {meta['window']}" in r.stdout
    assert load_checkpoint(out / "last.npz").user_meta["epoch"] == 2


# ---------------------------------------------------------------------------------------------
# 4. Atomic history, stale temporary files, kill -9
# ---------------------------------------------------------------------------------------------
def test_history_files_are_replaced_atomically(tmp_path):
    """A write that fails half-way (here: the file-size limit of the process) leaves the previous
    history.json and history.csv whole, and no temporary file behind."""
    model, tok, data = tiny_setup()
    trainer = Trainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, out_dir=tmp_path, log=None)
    trainer.fit()
    before = {name: (tmp_path / name).read_bytes() for name in ("history.json", "history.csv")}
    trainer.history = trainer.history * 40                 # a history of 40 epochs: a bigger file
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (2000, hard))
    try:
        with pytest.raises(OutputError, match="history.json"):
            trainer.write_history()
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert json.loads(before["history.json"])["history"]
    assert tmp_files(tmp_path) == []


def test_stale_temporary_files_are_removed_and_nothing_else(tmp_path):
    """Temporary files of killed saves (``<file>.<8 chars>.tmp``) are removed when training
    starts in the folder; files that merely look similar are left alone."""
    stale = ["last.npz.abcd1234.tmp", "best.npz.x_y_z_w_.tmp", "history.json.zzzzzzzz.tmp", "curves.png.00000000.tmp"]
    kept = ["notes.tmp", "last.npz.tmp", "last.npz.abc.tmp", "data.txt.abcd1234.tmp", "last.npz.abcd1234.tmp.bak"]
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x" * 100)
    model, tok, data = tiny_setup()
    Trainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, out_dir=tmp_path, log=None).fit()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name in stale + kept) == sorted(kept)


KILL_AT_SAVE = """
    import os, signal
    calls = [0]
    fsync = os.fsync
    def fsync_then_die(fd):
        calls[0] += 1
        if calls[0] == int(os.environ["KILL_AT"]):
            os.kill(os.getpid(), signal.SIGKILL)      # after the temporary file, before the rename
        return fsync(fd)
    os.fsync = fsync_then_die
    """


@pytest.mark.slow
def test_kill_9_during_saves_never_costs_the_last_good_checkpoint(corpus, tmp_path):
    """kill -9 in the middle of a write, at a different save each time (a loop of 3 runs):
    best.npz and last.npz always load, the next run cleans the temporary file up and resumes."""
    out = tmp_path / "run"
    args = ["train", "--data", corpus, *TINY, "--epochs", "6", "--max-steps-per-epoch", "2", "--out", out]
    epochs_seen = []
    for kill_at in (1, 4, 3):                   # the very first save; then mid-run ones
        os.environ["KILL_AT"] = str(kill_at)
        try:
            resume = ["train", "--resume", out / "last.npz", "--samples", "0"] if (out / "last.npz").exists() else args
            r = run_wrapped(KILL_AT_SAVE, *resume)
        finally:
            del os.environ["KILL_AT"]
        assert r.returncode == -signal.SIGKILL, r.stderr
        assert tmp_files(out), "the kill should have left a temporary file"
        for name in ("best.npz", "last.npz"):
            if (out / name).exists():
                load_model(out / name)          # whole, not half-written
        if (out / "last.npz").exists():
            epochs_seen.append(load_checkpoint(out / "last.npz").user_meta["epoch"])
    assert epochs_seen == sorted(epochs_seen) and epochs_seen[-1] > 1
    r = no_traceback(run_cli("train", "--resume", out / "last.npz", "--samples", "0"))
    assert r.returncode == 0, r.stderr
    assert tmp_files(out) == []
    assert len(json.loads((out / "history.json").read_text())["history"]) == 6


@pytest.mark.slow
def test_kill_9_at_random_moments_in_a_loop(corpus, tmp_path):
    """The same from outside: SIGKILL at random moments of a run that saves every two steps,
    four times; after each kill the checkpoints load, and a final resume completes."""
    rng = numpy.random.default_rng(0)
    out = tmp_path / "run"
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1")

    def command():                 # resume when a checkpoint survived, else start (again)
        if (out / "last.npz").exists():
            return ["train", "--resume", str(out / "last.npz"), "--samples", "0"]
        return ["train", "--data", str(corpus), *TINY, "--epochs", "12", "--max-steps-per-epoch", "2",
                "--out", str(out)]

    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-m", "scratchlstm", *command()], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.8 + rng.uniform(0, 1.2))      # start-up takes about 0.8 s
        proc.kill()
        proc.wait(timeout=30)
        for name in ("best.npz", "last.npz"):
            if (out / name).exists():
                load_model(out / name)
    r = no_traceback(run_cli(*command(), timeout=300))
    assert r.returncode == 0, r.stderr
    assert tmp_files(out) == []
    assert len(json.loads((out / "history.json").read_text())["history"]) == 12


# ---------------------------------------------------------------------------------------------
# 8. Resuming
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A one-epoch run of the CLI on the first 1,500 characters (--max-chars 1500)."""
    folder = tmp_path_factory.mktemp("finished")
    corpus = folder / "corpus.txt"
    corpus.write_text(TEXT.replace(". ", ".\n"))
    assert cli.main(["train", "--data", str(corpus), *TINY, "--epochs", "1", "--max-chars", "1500",
                     "--out", str(folder / "run")]) == 0
    return folder / "run"


@pytest.mark.parametrize("flag", [["--hidden-dim", "32"], ["--layers", "2"], ["--dropout", "0.5"],
                                  ["--embed-dim", "16"], ["--tokenizer", "word"], ["--tie-weights"],
                                  ["--init", "uniform"], ["--vocab-size", "100"], ["--max-chars", "800"]])
def test_resume_refuses_a_conflicting_flag_by_name(capsys, finished_run, flag):
    before = (finished_run / "last.npz").read_bytes()
    code, _, err = main(capsys, "train", "--resume", finished_run / "last.npz", *flag)
    assert code == cli.EXIT_USAGE and f"{flag[0]} " in err and "conflicts with" in err
    assert (finished_run / "last.npz").read_bytes() == before


def test_resume_accepts_repeated_model_flags_and_reuses_max_chars(capsys, finished_run, tmp_path):
    """Flags equal to the checkpoint's are fine; --max-chars is saved, so a resume without it
    trains on the same 1,500 characters, not the whole corpus."""
    run = shutil.copytree(finished_run, tmp_path / "run")
    tokens = load_checkpoint(run / "last.npz").user_meta["train_tokens"]
    code, _, err = main(capsys, "train", "--resume", run / "last.npz", "--hidden-dim", "16",
                        "--tokenizer", "char", "--epochs", "2", "--samples", "0")
    assert code == 0, err
    meta = load_checkpoint(run / "last.npz").user_meta
    assert meta["epoch"] == 3 and meta["train_tokens"] == tokens
    assert meta["data_config"]["max_chars"] == 1500          # saved under its option's name


def test_resume_with_less_data_than_the_position_needs_is_a_clear_error(tmp_path):
    model, tok, data = tiny_setup()
    trainer = SignallingTrainer(model, data, dict(QUICK, epochs=1, max_steps_per_epoch=None),
                                tokenizer=tok, out_dir=tmp_path, log=None)
    trainer.signum, trainer.signal_at = signal.SIGINT, 30           # Ctrl-C at step 30
    trainer.fit()
    short = {k: v[:300] for k, v in data.items()}
    with pytest.raises(ValueError, match="--max-chars"):
        Trainer.resume(tmp_path / "last.npz", short, log=None)


def test_a_best_npz_of_another_run_is_found_at_resume_time(tmp_path):
    """best.npz beside last.npz must be of the same run: checked when resuming, not after the
    epoch (a different model), and by run id (same shapes, another run)."""
    def finished(model, folder):
        trainer = Trainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, log=None)
        trainer.best_epoch = 1                   # as after an epoch that improved
        trainer.save(folder / "best.npz")
        trainer.save(folder / "last.npz")

    model, tok, data = tiny_setup()
    finished(model, tmp_path / "a")
    finished(LSTMLanguageModel(tok.vocab_size, 8, 32, 1), tmp_path / "b")
    (tmp_path / "a" / "best.npz").write_bytes((tmp_path / "b" / "best.npz").read_bytes())
    with pytest.raises(CheckpointError, match="best.npz does not belong to this run"):
        Trainer.resume(tmp_path / "a" / "last.npz", data, log=None)
    finished(tiny_setup()[0], tmp_path / "c")            # same shapes, another run
    (tmp_path / "a" / "best.npz").write_bytes((tmp_path / "c" / "best.npz").read_bytes())
    with pytest.raises(CheckpointError, match="another training run"):
        Trainer.resume(tmp_path / "a" / "last.npz", data, log=None)


# ---------------------------------------------------------------------------------------------
# 9. Absurd divergence, gradcheck with nothing to check
# ---------------------------------------------------------------------------------------------
def test_a_finite_but_absurd_loss_is_divergence(capsys, corpus, tmp_path):
    """lr 1e6 gives losses around 1e6 nats/token, finite but absurd: exit 1, nothing saved."""
    out = tmp_path / "run"
    code, _, err = main(capsys, "train", "--data", corpus, *TINY, "--lr", "1e6", "--epochs", "2",
                        "--max-steps-per-epoch", "5", "--out", out)
    assert code == cli.EXIT_FAILED and "diverged" in err and "far above" in err
    assert not (out / "last.npz").exists() and not (out / "best.npz").exists()


def test_gradcheck_with_zero_checks_does_not_pass(capsys):
    model = LSTMLanguageModel(5, 3, 3, dtype="float64")
    ids = numpy.zeros((2, 2), dtype=numpy.int64)
    with pytest.raises(ValueError, match="max_checks"):
        check_model(model, ids, ids, max_checks=0)
    code, out, _ = main(capsys, "gradcheck", "--max-checks", "0")
    assert code == cli.EXIT_USAGE and "PASSED" not in out


# ---------------------------------------------------------------------------------------------
# 10. Tokenizer against model, kinds, temperature, targets
# ---------------------------------------------------------------------------------------------
def test_tokenizer_and_model_vocabularies_must_match(tmp_path, capsys):
    tok = CharTokenizer().fit(TEXT)
    save_checkpoint(tmp_path / "m.npz", LSTMLanguageModel(tok.vocab_size + 5, 4, 4), tok)
    with pytest.raises(CheckpointError, match=f"{tok.vocab_size} tokens but the model's vocabulary has "
                                              f"{tok.vocab_size + 5}"):
        load_model(tmp_path / "m.npz")
    code, _, err = main(capsys, "generate", "--checkpoint", tmp_path / "m.npz")
    assert code == cli.EXIT_USAGE and "m.npz" in err


def test_a_tokenizer_file_with_an_edited_kind_is_refused(tmp_path):
    d = CharTokenizer().fit(TEXT).to_dict()
    d["kind"] = "word"
    with pytest.raises(ValueError, match="kind' edited"):
        tokenizer_from_dict(d)
    path = tmp_path / "tok.json"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=re.escape(str(path))):
        load_tokenizer(path)
    del d["state"]
    d["kind"] = "char"
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*'state'"):
        load_tokenizer(path)


def test_targets_outside_the_vocabulary_are_refused_when_training_and_evaluating():
    """PyTorch pads targets with -100: here that is an error with a hint, never class V-100."""
    model, tok, data = tiny_setup()
    padded = data["train"].copy()
    padded[50:60] = -100
    with pytest.raises(ValueError, match="-100"):
        Trainer(model, dict(data, train=padded), dict(QUICK, epochs=1), log=None)
    with pytest.raises(ValueError, match="-100"):
        evaluate(model, padded, 4, 10)
    logits = numpy.zeros((2, 3, tok.vocab_size), dtype=numpy.float32)
    with pytest.raises(ValueError, match="ignore_index"):
        model.loss(logits, numpy.full((2, 3), -100))


# ---------------------------------------------------------------------------------------------
# 11. Per-token text in the stream
# ---------------------------------------------------------------------------------------------
class ScriptedModel:
    """Stands in for a model: its logits put all weight on the next token of a script."""

    def __init__(self, script, vocab_size):
        self.script, self.vocab_size, self.calls = list(script), vocab_size, 0

    def eval(self):
        return self

    def __call__(self, ids, state=None):
        logits = numpy.zeros((ids.shape[0], 1, self.vocab_size))
        logits[-1, 0, self.script[min(self.calls, len(self.script) - 1)]] = 50.0
        self.calls += 1
        return logits, state


def test_unk_tokens_of_a_char_model_get_their_own_text():
    """The char tokenizer decodes <unk> as U+FFFD: that is text, not half a character."""
    tok = CharTokenizer().fit("abc")
    a, b = tok.encode("ab")
    script = [a, tok.unk_id, b, tok.unk_id]
    texts = [t.text for t in stream(ScriptedModel(script, tok.vocab_size), tok, "a", 4, temperature=0)]
    assert texts == ["a", "\ufffd", "b", "\ufffd"]


def test_bpe_holds_back_only_incomplete_utf8():
    """A character split over two byte tokens appears with the second; a token whose text is
    U+FFFD itself is not held back; bytes still incomplete at the end are flushed."""
    tok = BPETokenizer(vocab_size=257).fit("x")                  # bytes only (and <eos>)
    byte_id = {tok.token_bytes(i): i for i in range(tok.vocab_size)}
    e_acute = [byte_id[bytes([b])] for b in "é".encode("utf-8")]            # two bytes
    replacement = [byte_id[bytes([b])] for b in "\ufffd".encode("utf-8")]   # three bytes
    x = tok.encode("x")[0]
    script = [e_acute[0], e_acute[1], x, *replacement, e_acute[0]]
    model = ScriptedModel(script, tok.vocab_size)
    texts = [t.text for t in stream(model, tok, "x", len(script), temperature=0)]
    assert texts == ["", "é", "x", "", "", "\ufffd", "\ufffd"]


# ---------------------------------------------------------------------------------------------
# 12. Damaged checkpoints, full disks, unclear messages, unexpected errors
# ---------------------------------------------------------------------------------------------
def rewrite_meta(path, change):
    """Rewrite a checkpoint's JSON metadata as ``change(meta)`` returns it (a hand edit)."""
    with numpy.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = change(json.loads(arrays["__meta__"].tobytes()))
    arrays["__meta__"] = numpy.frombuffer(json.dumps(meta).encode(), dtype=numpy.uint8)
    numpy.savez(path, **arrays)


DROP = object()


def edit(*keys, value=DROP):
    """A change that sets (or, by default, deletes) the entry at ``keys`` of the metadata."""
    def change(meta):
        inner = meta
        for key in keys[:-1]:
            inner = inner[key]
        if value is DROP:
            del inner[keys[-1]]
        else:
            inner[keys[-1]] = value
        return meta
    return change


TAMPERING = {
    "meta is a list": lambda meta: [1, 2],
    "model_config is a string": edit("model_config", value="big"),
    "model_config lacks hidden_dim": edit("model_config", "hidden_dim"),
    "hidden_dim is a string": edit("model_config", "hidden_dim", value="16"),
    "vocabulary of 10^12": edit("model_config", "vocab_size", value=10 ** 12),
    "dropout is NaN": edit("model_config", "dropout", value=float("nan")),
    "unknown cell": edit("model_config", "cell", value="transformer"),
    "format_version is a string": edit("format_version", value="1"),
    "tokenizer lacks its state": edit("tokenizer", "state"),
    "tokenizer is a number": edit("tokenizer", value=5),
    "tokenizer vocabulary is a number": edit("tokenizer", "state", "vocab", value=3),
    "training meta is a string": edit("meta", value="x"),
    "epoch is a string": edit("meta", "epoch", value="two"),
    "history is a number": edit("meta", "history", value=3),
    "optimizer lacks its type": edit("optimizer", "type"),
    "optimizer state lengths are a list": edit("optimizer", "state_lengths", value=[1]),
    "train config is a list": edit("meta", "train_config", value=[]),
    "scheduler state is a string": edit("meta", "scheduler", value="x"),
}


@pytest.fixture(scope="module")
def training_checkpoint(tmp_path_factory):
    """The bytes of a resumable checkpoint (a trainer's save, no training needed)."""
    model, tok, data = tiny_setup()
    path = tmp_path_factory.mktemp("ckpt") / "last.npz"
    Trainer(model, data, dict(QUICK, epochs=1), tokenizer=tok, log=None).save(path)
    return path.read_bytes()


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_hand_edited_checkpoint_metadata_is_a_checkpoint_error(tmp_path, training_checkpoint, name):
    """Whatever was edited, loading and resuming raise CheckpointError naming the file, never a
    KeyError, AttributeError, TypeError or MemoryError from deep inside."""
    _, _, data = tiny_setup()
    path = tmp_path / "last.npz"
    path.write_bytes(training_checkpoint)
    rewrite_meta(path, TAMPERING[name])
    with pytest.raises(CheckpointError, match=re.escape(str(path))):
        load_model(path)
        Trainer.resume(path, data, log=None)


def test_a_damaged_checkpoint_through_the_cli(capsys, tmp_path):
    model, tok, _ = tiny_setup()
    path = save_checkpoint(tmp_path / "m.npz", model, tok)
    rewrite_meta(path, TAMPERING["model_config lacks hidden_dim"])
    for argv in (["generate", "--checkpoint", path], ["evaluate", "--checkpoint", path],
                 ["train", "--resume", path], ["serve", "--checkpoint", path, "--port", "0"]):
        code, _, err = main(capsys, *argv)
        assert code == cli.EXIT_USAGE and "hidden_dim" in err and str(path) in err, argv


def limit_file_size(limit):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))


def test_a_full_disk_gives_a_clear_message_and_exit_code_3(corpus, tmp_path):
    """Writes fail (the process may not write files over 8 kB, smaller than a checkpoint): exit 3,
    not 1 (diverged), one line naming the file, and the previous checkpoint intact."""
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(corpus), *TINY, "--epochs", "1", "--max-steps-per-epoch", "3",
                     "--out", str(out)]) == 0
    good = (out / "last.npz").read_bytes()
    r = no_traceback(run_cli("train", "--resume", out / "last.npz", "--epochs", "2",
                             preexec_fn=limit_file_size(8000)))
    assert r.returncode == cli.EXIT_IO == 3, r.stderr
    assert "could not write" in r.stderr and "File too large" in r.stderr
    assert f"last good checkpoint is {out / 'last.npz'}" in r.stderr
    assert (out / "last.npz").read_bytes() == good and tmp_files(out) == []


def test_short_splits_name_the_split_and_the_option(capsys, corpus):
    model, tok, data = tiny_setup()
    with pytest.raises(ValueError, match=r"valid split has only 5 tokens.*eval_batch_size=10 \(--eval-batch-size\)"):
        Trainer(model, dict(data, valid=data["valid"][:5]), dict(eval_batch_size=10), log=None)
    with pytest.raises(ValueError, match=r"train split .*--batch-size"):
        Trainer(model, dict(data, train=data["train"][:5]), dict(batch_size=20), log=None)


def test_unexpected_errors_have_their_own_exit_code_and_no_traceback(capsys, monkeypatch):
    import scratchlstm.gradcheck

    def broken(*args, **kwargs):
        raise RuntimeError("something the library did not expect")

    monkeypatch.setattr(scratchlstm.gradcheck, "check_model", broken)
    code, _, err = main(capsys, "gradcheck")
    assert code == cli.EXIT_INTERNAL == 5
    assert "unexpected RuntimeError: something the library did not expect" in err and "Traceback" not in err


def test_exit_codes_are_the_same_in_help_and_readme(capsys):
    """--help and the README list the same exit codes."""
    code, out, _ = main(capsys, "train", "--help")
    readme = (REPO / "README.md").read_text()
    for number in ("0", "1", "2", "3", "4", "5", "130"):
        assert f"\n  {number} " in out
        assert f"{number} " in readme.split("Exit codes:")[1].split("\n\n")[0]


def test_checkpoints_get_ordinary_file_permissions(tmp_path):
    """An atomic write goes through a private temporary file; the result is readable like any
    file the user creates (umask applied), so a checkpoint can be shared or shipped."""
    import os
    import stat

    from scratchlstm.checkpoint import write_atomically

    old = os.umask(0o022)
    try:
        target = tmp_path / "x.json"
        write_atomically(target, b"{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
