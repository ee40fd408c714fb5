"""The GPU budgets, as tests: host syncs, copies, random generators and kernel launches.

They count through the strict CuPy stand-in (``tests/strict_cupy``), so they are marked ``gpu``
and need the stand-in: ``tests/test_16_strict_cupy.py`` runs them in a subprocess with it first on
``PYTHONPATH``; with real CuPy they skip (it cannot count). The budgets:

* at most 1 host sync per training step, on average;
* no random generator created per step (none at all, in fact);
* no host<->device copy and no host sync inside the LSTM's loop over time steps;
* at most :data:`FORWARD_LAUNCHES_PER_STEP` kernel launches per time step and layer forward, and
  :data:`BACKWARD_LAUNCHES_PER_STEP` backward. These are today's counts (the loop of
  ``nn/fast.py``): fused kernels may lower them, nothing may raise them.
"""
import math

import numpy
import pytest

from scratchlstm import LSTMLanguageModel, backend
from scratchlstm.backend import to_device, to_host
from scratchlstm.nn import fast
from scratchlstm.optim import clip_grad_norm
from scratchlstm.training import LOSS_READ_EVERY, Trainer, TrainingDiverged, evaluate

pytestmark = pytest.mark.gpu

#: Launches per time step and layer in ``fast.lstm_forward``: the recurrent GEMM, its addition
#: to the gate row, one tanh over the row, scale and shift to sigmoids, f*c, i*g, their sum,
#: tanh(c) and o*tanh(c).
FORWARD_LAUNCHES_PER_STEP = 10
#: Launches per time step and layer in ``fast.lstm_backward``: 15 elementwise operations (the
#: gradient through h, c, the four gates and the two nonlinearities) and the recurrent GEMM.
BACKWARD_LAUNCHES_PER_STEP = 16


def small_model(**kwargs):
    options = dict(vocab_size=40, embed_dim=12, hidden_dim=16, num_layers=2, dropout=0.3, seed=0)
    options.update(kwargs)
    return LSTMLanguageModel(**options, device="cuda")


def token_data(n=4_000, vocab=40, seed=0):
    ids = numpy.random.default_rng(seed).integers(0, vocab, n)
    return {"train": ids[:3_200], "valid": ids[3_200:3_600], "test": ids[3_600:]}


# -- the stand-in refuses what CuPy refuses ------------------------------------------------------
def test_standin_refuses_implicit_host_conversion_and_mixed_arrays(counts):
    """numpy.asarray(device array) and device-host mixtures raise TypeError, as in CuPy; a[:] =
    host array is the one implicit copy CuPy makes, and reading a scalar is allowed but counted."""
    import cupy

    x = cupy.asarray(numpy.arange(6.0))
    with pytest.raises(TypeError, match="Implicit conversion"):
        numpy.asarray(x)
    with pytest.raises(TypeError, match="Unsupported type"):
        x + numpy.ones(6)
    with pytest.raises(TypeError, match="Unsupported type"):
        numpy.ones(6) * x
    with pytest.raises(TypeError, match="Unsupported type"):
        x * numpy.asarray(2.0)                    # a 0-d host array too
    with pytest.raises(ValueError, match="cannot be used for fill"):
        x[...] = numpy.zeros(6)
    with counts.counting() as seen:
        x[:] = numpy.zeros(6)                     # the explicit full-slice copy
        float(x.sum())
        x.get()
    assert (seen.h2d, seen.d2h, seen.syncs, seen.launches) == (1, 1, 2, 1)


def test_standin_refuses_numpy_only_random_methods_and_deprecated_scatter(counts):
    """CuPy's Generator has no choice, permutation, shuffle or normal; cupyx.scatter_add is
    deprecated (it warns on every call) and the stand-in refuses it."""
    import cupy
    import cupyx

    rng = cupy.random.default_rng(0)
    for name in ("choice", "permutation", "shuffle", "normal"):
        with pytest.raises(AttributeError, match=name):
            getattr(rng, name)
    assert rng.random((2, 3), dtype=numpy.float32).dtype == numpy.float32
    with pytest.raises(cupy.StrictCupyError, match="add.at"):
        cupyx.scatter_add(cupy.zeros(3), cupy.asarray(numpy.array([0, 0])), 1.0)


def test_backend_sees_one_fake_device_through_import_cupy(counts):
    """The library finds the stand-in by the normal ``import cupy``: one device, 'auto' is cuda."""
    import cupy

    assert backend.gpu_available() and backend.resolve_device("auto") == "cuda"
    assert backend.xp_for("cuda") is cupy
    assert backend.device_of(to_device(numpy.ones(2), "cuda")) == "cuda"


# -- budgets ---------------------------------------------------------------------------------------
def _trainer(model, **config):
    options = dict(epochs=1, batch_size=4, eval_batch_size=4, bptt=10, lr=3e-3, clip=0.25,
                   progress=True, max_steps_per_epoch=25)
    options.update(config)
    return Trainer(model, token_data(), options, log=None)


@pytest.mark.parametrize("clip", [0.25, None])
def test_a_training_step_waits_for_the_device_at_most_once(counts, capsys, clip, monkeypatch):
    """25 steps with the progress bar on (it shows the loss) and dropout: at most 25 syncs, no
    random generator, exactly two host->device copies per step (the input and target ids) and
    a device->host copy only every LOSS_READ_EVERY steps (with the loss)."""
    # redraw on every update: a fast machine finishes 25 steps within one redraw interval
    monkeypatch.setattr("scratchlstm.progress.MIN_INTERVAL", 0.0)
    trainer = _trainer(small_model(), clip=clip)
    steps = trainer.steps_per_epoch()
    with counts.counting() as seen:
        assert trainer.train_epoch()
    assert trainer.window == steps == 25
    assert seen.syncs <= steps, f"{seen.syncs} host syncs in {steps} training steps"
    assert seen.generators == 0
    assert seen.h2d == 2 * steps
    assert seen.d2h <= math.ceil(steps / LOSS_READ_EVERY) + 1
    assert "loss" in capsys.readouterr().err                  # the bar did show a loss
    assert math.isfinite(trainer.epoch_loss_sum) and trainer.epoch_loss_sum > 0


def test_no_random_generator_is_created_per_step(counts):
    """Dropout on every layer (input, between layers, output), locked or not: training steps
    create no random generator at all (each would initialise cuRAND state on a GPU)."""
    for locked in (False, True):
        trainer = _trainer(small_model(dropout=0.5, locked_dropout=locked), max_steps_per_epoch=6)
        with counts.counting() as seen:
            trainer.train_epoch()
        assert seen.generators == 0, f"{seen.generators} generators in 6 steps (locked={locked})"


def test_evaluation_waits_once(counts):
    """Evaluation keeps the summed loss on the device and reads it once at the end."""
    model = small_model()
    ids = token_data()["valid"]
    with counts.counting() as seen:
        loss = evaluate(model, ids, batch_size=4, bptt=10)
    assert math.isfinite(loss)
    assert seen.syncs == 1 and seen.generators == 0


def _lstm_layer_counts(counts, T, B=3, D=5, H=7):
    """Launches, syncs and copies of one forward and one backward call of fast.lstm_* on the
    device, for a sequence of T steps."""
    rng = numpy.random.default_rng(0)
    arrays = [to_device(a.astype(numpy.float32), "cuda") for a in
              (rng.normal(size=(T, B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H)),
               rng.normal(size=(D, 4 * H)), rng.normal(size=(H, 4 * H)), rng.normal(size=4 * H),
               rng.normal(size=(T, B, H)))]
    x, h0, c0, Wx, Wh, b, dhs = arrays
    workspace = {}
    fast.lstm_forward(x, h0, c0, Wx, Wh, b, workspace=workspace)     # fill the workspace first
    with counts.counting(names=True) as forward:
        hs, _, cache = fast.lstm_forward(x, h0, c0, Wx, Wh, b, workspace=workspace)
    with counts.counting(names=True) as backward:
        fast.lstm_backward(dhs, cache, workspace=workspace)
    return forward, backward


def test_the_time_loop_has_no_host_traffic_and_a_launch_ceiling(counts):
    """The LSTM's loop over time neither waits for nor copies to or from the host, and each time
    step of a layer launches at most the stated number of kernels (measured as the difference
    between T = 9 and T = 4: what one more step costs)."""
    short_f, short_b = _lstm_layer_counts(counts, T=4)
    long_f, long_b = _lstm_layer_counts(counts, T=9)
    for seen in (short_f, short_b, long_f, long_b):
        assert (seen.syncs, seen.h2d, seen.d2h, seen.generators) == (0, 0, 0, 0), seen
    per_step_forward = (long_f.launches - short_f.launches) / 5
    per_step_backward = (long_b.launches - short_b.launches) / 5
    print(f"launches per time step and layer: forward {per_step_forward:g}, backward "
          f"{per_step_backward:g}; fixed cost forward {short_f.launches - 4 * per_step_forward:g}, "
          f"backward {short_b.launches - 4 * per_step_backward:g}")
    assert per_step_forward <= FORWARD_LAUNCHES_PER_STEP, long_f.names
    assert per_step_backward <= BACKWARD_LAUNCHES_PER_STEP, long_b.names


def test_launches_of_a_whole_training_step_are_reported(counts, capsys):
    """Not a budget: records what a whole step costs for the medium shape's structure (2 layers,
    dropout, tied weights), to compare against after fusing kernels (issue: fused kernels)."""
    model = small_model(embed_dim=16, tie_weights=True, dropout=0.5)
    trainer = _trainer(model, bptt=35, progress=False, max_steps_per_epoch=3)
    trainer.train_epoch()                                      # warm (workspaces, buffers)
    trainer.window = 0
    with counts.counting() as seen:
        trainer.train_epoch()
    per_step = seen.launches / 3
    with capsys.disabled():
        print(f"\nlaunches per training step (2 layers, T 35, dropout, tied, Adam, clip): "
              f"{per_step:.0f}; syncs per step {seen.syncs / 3:g}")
    # 35 steps x 2 layers x (10 + 17) in the time loops, plus the rest of the step
    assert per_step > 35 * 2 * (FORWARD_LAUNCHES_PER_STEP + BACKWARD_LAUNCHES_PER_STEP) * 0.9


def test_clipping_decides_on_the_device(counts):
    """clip_grad_norm(sync=False) scales on the device without reading the norm, and gives the
    CPU's gradients; a non-finite norm leaves the gradients as they are."""
    cpu = LSTMLanguageModel(30, 8, 8, 2, seed=1)
    gpu = LSTMLanguageModel(30, 8, 8, 2, seed=1, device="cuda")
    rng = numpy.random.default_rng(0)
    ids, targets = rng.integers(0, 30, (6, 3)), rng.integers(0, 30, (6, 3))
    for model in (cpu, gpu):
        logits, _ = model(ids)
        _, dlogits = model.loss(logits, model.to_device_ids(targets))
        model.zero_grad()
        model.backward(dlogits)
    cpu_norm = clip_grad_norm(cpu.parameters(), 0.01)
    with counts.counting() as seen:
        gpu_norm = clip_grad_norm(gpu.parameters(), 0.01, sync=False)
    assert seen.syncs == 0 and seen.d2h == 0
    assert math.isclose(float(gpu_norm), cpu_norm, rel_tol=1e-5) and cpu_norm > 0.01
    for (name, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        assert numpy.allclose(p.grad, to_host(q.grad), rtol=1e-4, atol=1e-9), name
    gpu.parameters()[0].grad[0, 0] = numpy.inf
    before = [to_host(p.grad) for p in gpu.parameters()[1:]]
    assert not math.isfinite(float(clip_grad_norm(gpu.parameters(), 0.01, sync=False)))
    for b, p in zip(before, gpu.parameters()[1:]):
        assert numpy.array_equal(b, to_host(p.grad))


def test_nan_guard_on_the_device_stops_before_the_update(counts):
    """With one read per step the guard is still exact: a poisoned weight stops training at the
    step it is first used, naming it, and no weight changes."""
    model = small_model(dropout=0.0)
    trainer = _trainer(model, progress=False)
    model.embedding.weight.data[:] = numpy.nan
    decoder_before = to_host(model.decoder.weight.data)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 1 "):
        trainer.train_epoch()
    assert numpy.array_equal(to_host(model.decoder.weight.data), decoder_before)
