"""GPU readiness checks that run on any machine: the device default, the CLI's answer to a bad
$SCRATCHLSTM_DEVICE, the GPU extras, counter-based dropout masks, and no generator per step.

The checks that need a device (real or the strict stand-in) are in tests/test_16_gpu_paths.py
and tests/test_16_gpu_budgets.py."""
import ast
import configparser
import math
from pathlib import Path

import numpy
import pytest

from scratchlstm import LSTMLanguageModel, backend
from scratchlstm.backend import DeviceError
from scratchlstm.checkpoint import load_model, save_checkpoint
from scratchlstm.nn.counter_random import CounterRandom
from scratchlstm.nn.functional import dropout_forward
from scratchlstm.progress import Progress
from scratchlstm.text import CharTokenizer
from scratchlstm.training import Trainer

REPO = Path(__file__).resolve().parents[1]
TEXT = "the cat sat on the mat.\nthe dog sat on the log.\n" * 30


def tiny_checkpoint(tmp_path):
    tok = CharTokenizer().fit(TEXT)
    model = LSTMLanguageModel(tok.vocab_size, 8, 8, 1, seed=0, device="cpu")
    return save_checkpoint(tmp_path / "m.npz", model, tok)


# -- the device default ----------------------------------------------------------------------------
def test_model_and_checkpoint_follow_the_environment_variable(tmp_path, monkeypatch):
    """LSTMLanguageModel(device=None) and load_model(path) use $SCRATCHLSTM_DEVICE, as the README
    and --help promise: 'cuda' on a machine without a GPU must fail loudly, not build on the CPU."""
    path = tiny_checkpoint(tmp_path)
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "cuda")
    if backend.gpu_available():
        assert LSTMLanguageModel(5, 4, 4).device == "cuda"
        assert load_model(path)[0].device == "cuda"
    else:
        with pytest.raises(DeviceError):
            LSTMLanguageModel(5, 4, 4)
        with pytest.raises(DeviceError):
            load_model(path)
    assert load_model(path, device="cpu")[0].device == "cpu"     # an explicit device wins
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "cpu")
    assert load_model(path)[0].device == "cpu"


@pytest.mark.parametrize("command", ["evaluate", "generate", "serve", "train"])
def test_cli_refuses_an_invalid_device_in_the_environment(tmp_path, monkeypatch, capsys, command):
    """A typo in $SCRATCHLSTM_DEVICE exits 2 with a message naming the variable and the valid
    values, for every command that computes (before, evaluate/generate/serve ignored it)."""
    from scratchlstm.cli import main

    path = tiny_checkpoint(tmp_path)
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(TEXT)
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "quantum")
    args = {"evaluate": ["evaluate", "--checkpoint", str(path), "--data", str(corpus)],
            "generate": ["generate", "--checkpoint", str(path), "--max-new-tokens", "3"],
            "serve": ["serve", "--checkpoint", str(path), "--port", "0"],
            "train": ["train", "--data", str(corpus), "--tokenizer", "char", "--epochs", "1",
                      "--out", str(tmp_path / "run")]}[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "SCRATCHLSTM_DEVICE" in err and "'quantum'" in err and "cpu" in err and "Traceback" not in err


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU")
def test_cli_cuda_from_the_environment_without_a_gpu_exits_2(tmp_path, monkeypatch, capsys):
    """$SCRATCHLSTM_DEVICE=cuda without CuPy or a GPU: exit 2 and say what to install."""
    from scratchlstm.cli import main

    path = tiny_checkpoint(tmp_path)
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "cuda")
    assert main(["generate", "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err
    assert "cuda" in err and ("pip install scratchlstm[gpu" in err or "no CUDA GPU" in err)


# -- packaging -----------------------------------------------------------------------------------
def test_gpu_extras_for_cuda_12_and_13_and_the_readme_says_which():
    """setup.cfg offers one extra per CUDA major version, and README says how to choose."""
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    extras = cfg["options.extras_require"]
    assert "cupy-cuda12x" in extras["gpu-cuda12"] and "cupy-cuda13x" in extras["gpu-cuda13"]
    assert "cupy-cuda12x" in extras["gpu"]
    readme = (REPO / "README.md").read_text()
    assert "gpu-cuda12" in readme and "gpu-cuda13" in readme and "nvidia-smi" in readme


def test_the_library_never_calls_the_deprecated_scatter_add():
    """No cupyx.scatter_add (deprecated since CuPy 12, it warns on every call) anywhere in the
    package: scatter-adds are xp.add.at."""
    offenders = []
    for path in (REPO / "scratchlstm").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("scatter_add", "scatter_max", "scatter_min"):
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
            if isinstance(node, ast.Name) and node.id == "cupyx":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == []


# -- dropout from a counter ------------------------------------------------------------------------
def test_counter_random_is_a_pure_function_of_seed_step_and_draw():
    """The same (seed, step) gives the same numbers, whatever happened before; another step,
    seed or draw gives other numbers; values lie in [0, 1) and keep the dtype."""
    a = CounterRandom(seed=5, step=3)
    first, second = a.random((4, 6), dtype=numpy.float32), a.random((4, 6), dtype=numpy.float32)
    b = CounterRandom(seed=99)
    b.random(100)
    b.restart(5, 3)
    assert numpy.array_equal(b.random((4, 6), dtype=numpy.float32), first)
    assert not numpy.array_equal(first, second)                       # the second draw differs
    c = CounterRandom(seed=5, step=4)
    assert not numpy.array_equal(c.random((4, 6), dtype=numpy.float32), first)
    for dtype in (numpy.float32, numpy.float64):
        u = CounterRandom(1).random(10_000, dtype=dtype)
        assert u.dtype == dtype and u.min() >= 0.0 and u.max() < 1.0


def test_counter_random_looks_uniform_and_independent():
    """Statistics of 400,000 numbers: 20 equal bins within 5 standard errors, and no correlation
    between neighbouring elements, consecutive steps, or neighbouring layers (seeds)."""
    n = 400_000
    u = CounterRandom(seed=0, step=0).random(n)
    counts = numpy.histogram(u, bins=20, range=(0, 1))[0]
    expected = n / 20
    assert numpy.all(numpy.abs(counts - expected) < 5 * math.sqrt(expected))
    assert abs(u.mean() - 0.5) < 5 * math.sqrt(1 / 12 / n)
    limit = 5 / math.sqrt(n)
    assert abs(numpy.corrcoef(u[:-1], u[1:])[0, 1]) < limit
    assert abs(numpy.corrcoef(u, CounterRandom(seed=0, step=1).random(n))[0, 1]) < limit
    assert abs(numpy.corrcoef(u, CounterRandom(seed=1, step=0).random(n))[0, 1]) < limit


def test_dropout_keeps_the_expected_fraction_with_counter_masks():
    """dropout_forward (the reading track, unchanged) with a CounterRandom keeps about 1 - p of
    the units and scales them by 1 / (1 - p)."""
    x = numpy.ones((50, 20, 100), dtype=numpy.float32)
    out, mask = dropout_forward(x, 0.3, CounterRandom(seed=2, step=7))
    kept = (out > 0).mean()
    assert abs(kept - 0.7) < 5 * math.sqrt(0.21 / x.size)
    assert numpy.allclose(out[out > 0], 1 / 0.7)


def test_training_steps_create_no_random_generator(monkeypatch):
    """A training step with dropout creates no random generator (before: one per dropout layer per
    step, which on CuPy initialises cuRAND state each time)."""
    created = []
    original = numpy.random.default_rng

    def counting_default_rng(*args, **kwargs):
        created.append(args)
        return original(*args, **kwargs)

    tok = CharTokenizer().fit(TEXT)
    ids = numpy.array(tok.encode(TEXT))
    model = LSTMLanguageModel(tok.vocab_size, 8, 8, 2, dropout=0.5, seed=0)
    trainer = Trainer(model, {"train": ids}, dict(epochs=1, batch_size=4, bptt=10, progress=False), log=None)
    windows = list(trainer._windows(1))[:5]
    monkeypatch.setattr(numpy.random, "default_rng", counting_default_rng)
    for inputs, targets in windows:
        trainer.train_step(inputs, targets)
    assert created == []


def test_clip_grad_norm_without_sync_on_the_cpu_still_returns_a_float():
    """sync=False changes nothing on the CPU (reading host memory costs nothing)."""
    from scratchlstm.nn.module import Parameter
    from scratchlstm.optim import clip_grad_norm, grad_norm

    p = Parameter(numpy.zeros(4))
    p.grad = numpy.array([3.0, 4.0, 0.0, 0.0])
    assert isinstance(grad_norm([p], sync=False), float)
    assert clip_grad_norm([p], 1.0, sync=False) == pytest.approx(5.0)
    assert numpy.allclose(p.grad, [0.6, 0.8, 0, 0], rtol=1e-5)


def test_progress_bar_keeps_the_last_loss_between_reads():
    """The trainer reads the loss every few steps; the bar shows the last value read meanwhile."""
    import io

    stream = io.StringIO()
    bar = Progress(3, "epoch 1", enabled=True, stream=stream, min_interval=0.0)
    bar.update(1, loss=2.5, lr=0.1)
    bar.update(1, lr=0.1)
    assert stream.getvalue().split("\r")[-1].count("loss 2.5") == 1
