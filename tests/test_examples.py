"""The runnable examples work end to end (the flagship one in its --quick form)."""
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_example(*args, timeout=300):
    env = dict(os.environ, SCRATCHLSTM_DEVICE="cpu")
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, env=env,
                          timeout=timeout)


def test_train_covid_quick_then_generate(tmp_path):
    """`python examples/train_covid.py --quick` trains on the shipped corpus, reports perplexity per
    epoch, saves the best checkpoint and the learning curves, and prints samples; then
    examples/generate.py continues a prompt from that checkpoint."""
    out = tmp_path / "covid"
    r = run_example("examples/train_covid.py", "--quick", "--out", str(out), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "epoch   1" in r.stdout and "epoch   2" in r.stdout and "test ppl" in r.stdout
    assert r.stdout.count("best epoch") == 1 and r.stdout.lower().count("best epoch") == 1   # one summary
    assert "[temperature 0.8] the vaccine" in r.stdout
    assert (out / "best.npz").exists() and (out / "curves.png").exists()
    r = run_example("examples/generate.py", str(out / "best.npz"), "--prompt", "masks", "--max-new-tokens", "10")
    assert r.returncode == 0, r.stderr
    assert "masks" in r.stdout
    # a second run into the same folder is refused before it trains, and the first run is kept
    best = (out / "best.npz").read_bytes()
    r = run_example("examples/train_covid.py", "--quick", "--out", str(out), "--device", "cpu")
    assert r.returncode == 2 and "already holds a training run" in r.stderr and "--overwrite" in r.stderr
    assert (out / "best.npz").read_bytes() == best


def test_train_covid_says_when_it_falls_back_to_the_cpu(tmp_path):
    """With --device auto and no GPU, the example says so and continues on the CPU."""
    from scratchlstm import gpu_available

    if gpu_available():
        return
    r = run_example("examples/train_covid.py", "--quick", "--epochs", "1", "--out", str(tmp_path / "x"))
    assert r.returncode == 0, r.stderr
    assert "No usable GPU" in r.stdout


def test_train_shakespeare_char_quick(tmp_path, corpus_dir):
    """The character-level classic runs end to end on Tiny Shakespeare (skipped without the data)."""
    data = corpus_dir("tinyshakespeare")
    r = run_example("examples/train_shakespeare_char.py", "--quick", "--data-dir", str(data),
                    "--out", str(tmp_path / "shq"), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    assert "nats/char" in r.stdout and (tmp_path / "shq" / "best.npz").exists()
