"""The same code on CuPy: GPU forward passes and gradients agree with NumPy within float32
tolerance, checkpoints move between devices, and a training step runs. Skipped without a GPU."""
import time

import numpy
import pytest

from scratchlstm import Adam, LSTMLanguageModel, clip_grad_norm, relative_error, softmax_cross_entropy
from scratchlstm.backend import synchronize, to_host
from scratchlstm.nn import functional as F

pytestmark = pytest.mark.gpu


def both_models(**kwargs):
    options = dict(vocab_size=50, embed_dim=32, hidden_dim=48, num_layers=2, seed=3)
    options.update(kwargs)
    return LSTMLanguageModel(**options), LSTMLanguageModel(**options).to("cuda")


def test_same_seed_same_weights_on_both_devices():
    """Weights come from a host generator, so the GPU model starts bit-identical."""
    cpu, gpu = both_models()
    for (name, a), (_, b) in zip(cpu.named_parameters(), gpu.named_parameters()):
        assert numpy.array_equal(a.data, to_host(b.data)), name


def test_forward_and_gradients_match_numpy():
    """Logits, loss and every gradient agree with NumPy within float32 round-off."""
    cpu, gpu = both_models(tie_weights=False)
    rng = numpy.random.default_rng(0)
    ids, targets = rng.integers(0, 50, (20, 8)), rng.integers(0, 50, (20, 8))
    results = []
    for model in (cpu, gpu):
        model.zero_grad()
        logits, state = model(ids)
        loss, dlogits = softmax_cross_entropy(logits, model.to_device_ids(targets))
        model.backward(dlogits)
        results.append((to_host(logits), float(loss), {n: to_host(p.grad) for n, p in model.named_parameters()}))
    (lc, loss_c, gc), (lg, loss_g, gg) = results
    assert relative_error(lc, lg) < 1e-5
    assert abs(loss_c - loss_g) < 1e-5
    for name in gc:
        assert relative_error(gc[name], gg[name]) < 1e-4, name


def test_embedding_scatter_add_on_the_gpu():
    """Repeated ids accumulate on the GPU too (cupy.add.at)."""
    import cupy

    W = cupy.zeros((4, 2), dtype=cupy.float32)
    ids = cupy.array([1, 1, 3])
    _, cache = F.embedding_forward(ids, W)
    dW = F.embedding_backward(cupy.ones((3, 2), dtype=cupy.float32), cache)
    assert to_host(dW).tolist() == [[0, 0], [2, 2], [0, 0], [1, 1]]


def test_checkpoint_saved_on_gpu_loads_on_cpu_and_back(tmp_path):
    """A GPU checkpoint holds host arrays: it loads on the CPU and moves back to the GPU."""
    from scratchlstm.checkpoint import load_model, save_checkpoint
    from scratchlstm.text import CharTokenizer

    tok = CharTokenizer().fit("abcdefghij")
    gpu = LSTMLanguageModel(tok.vocab_size, 8, 8, seed=1).to("cuda")
    path = save_checkpoint(tmp_path / "g.npz", gpu, tok)
    cpu_model, _ = load_model(path, device="cpu")
    back, _ = load_model(path, device="cuda")
    ids = numpy.array([[1, 2, 3]]).T
    assert relative_error(cpu_model(ids)[0], to_host(back(ids)[0])) < 1e-6


def test_a_training_step_runs_and_is_timed():
    """One full training step on the GPU (after a warm-up), timed with synchronisation."""
    _, gpu = both_models(vocab_size=10_000, embed_dim=200, hidden_dim=200)
    opt = Adam(gpu.parameters(), lr=1e-3)
    rng = numpy.random.default_rng(0)
    ids, targets = rng.integers(0, 10_000, (20, 20)), rng.integers(0, 10_000, (20, 20))

    def step():
        logits, _ = gpu(ids)
        loss, dlogits = softmax_cross_entropy(logits, gpu.to_device_ids(targets))
        gpu.zero_grad()
        gpu.backward(dlogits)
        clip_grad_norm(gpu.parameters(), 0.25)
        opt.step()
        return loss

    step()
    synchronize("cuda")
    start = time.perf_counter()
    for _ in range(5):
        loss = step()
    synchronize("cuda")
    seconds = (time.perf_counter() - start) / 5
    print(f"GPU training step (small config): {seconds * 1e3:.1f} ms, {400 / seconds:,.0f} tokens/s")
    assert numpy.isfinite(float(loss))
