"""The speed track computes the numbers of the reading track.

``scratchlstm/nn/functional.py`` is written to be read; ``scratchlstm/nn/fast.py`` is what the
layers run. Every function the speed track rewrites is compared here with its reading-track
original in float64, on random shapes, to a relative error below 1e-12: the speed tricks change
the order of floating-point operations, never the mathematics.
"""
import numpy
import pytest

from scratchlstm import Adam, AdamW, LSTMLanguageModel, SGD, relative_error
from scratchlstm.nn import fast
from scratchlstm.nn import functional as reading
from scratchlstm.nn.module import Parameter
from scratchlstm.optim import adam_step, sgd_step

TOL = 1e-12
SHAPES = [(1, 1, 1, 1), (1, 3, 2, 5), (4, 2, 3, 4), (7, 5, 6, 3), (3, 1, 8, 8), (12, 4, 5, 7)]


def lstm_inputs(rng, T, B, D, H, scale=0.6):
    return (rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H)),
            rng.standard_normal((D, 4 * H)) * scale, rng.standard_normal((H, 4 * H)) * scale,
            rng.standard_normal(4 * H) * scale)


@pytest.mark.parametrize("T, B, D, H", SHAPES)
def test_lstm_forward_tracks_agree(rng, T, B, D, H):
    """Hidden states and the final (h_T, c_T) of the two tracks are equal to round-off."""
    inputs = lstm_inputs(rng, T, B, D, H)
    hs_r, (h_r, c_r), _ = reading.lstm_forward(*inputs)
    hs_f, (h_f, c_f), _ = fast.lstm_forward(*inputs)
    for ours, truth in ((hs_f, hs_r), (h_f, h_r), (c_f, c_r)):
        assert relative_error(ours, truth) < TOL


@pytest.mark.parametrize("T, B, D, H", SHAPES)
@pytest.mark.parametrize("final_state", [False, True])
def test_lstm_backward_tracks_agree(rng, T, B, D, H, final_state):
    """All six gradients agree, with and without a gradient on the final state (h_T, c_T)."""
    inputs = lstm_inputs(rng, T, B, D, H)
    dhs = rng.standard_normal((T, B, H))
    extra = dict(dh_T=rng.standard_normal((B, H)), dc_T=rng.standard_normal((B, H))) if final_state else {}
    _, _, cache_r = reading.lstm_forward(*inputs)
    _, _, cache_f = fast.lstm_forward(*inputs)
    grads_r = reading.lstm_backward(dhs, cache_r, **extra)
    grads_f = fast.lstm_backward(dhs, cache_f, **extra)
    names = ["dx", "dh0", "dc0", "dWx", "dWh", "db"]
    for name, ours, truth in zip(names, grads_f, grads_r):
        assert ours.shape == truth.shape, name
        assert relative_error(ours, truth) < TOL, name


def test_lstm_backward_without_upstream_gradients(rng):
    """dhs=None (only the final state matters) means zeros on both tracks."""
    inputs = lstm_inputs(rng, 5, 2, 3, 4)
    dc_T = rng.standard_normal((2, 4))
    grads_r = reading.lstm_backward(None, reading.lstm_forward(*inputs)[2], dc_T=dc_T)
    grads_f = fast.lstm_backward(None, fast.lstm_forward(*inputs)[2], dc_T=dc_T)
    assert all(relative_error(a, b) < TOL for a, b in zip(grads_f, grads_r))


def test_a_workspace_reuses_memory_and_changes_no_number(rng):
    """A layer passes a ``workspace`` dict so that window after window reuses the same big
    arrays (fresh memory costs page faults). Two questions: are the results those of fresh
    arrays, and is the memory really reused? Two windows of different data through one
    workspace give exactly the numbers of calls without one, and the second window's cache holds
    the very array objects of the first."""
    workspace = {}
    caches = []
    for window in range(2):
        x, h0, c0, Wx, Wh, b = lstm_inputs(rng, 5, 3, 5, 6)
        dhs = rng.standard_normal((5, 3, 6))
        dh_T, dc_T = rng.standard_normal((2, 3, 6))
        hs, final, cache = fast.lstm_forward(x, h0, c0, Wx, Wh, b, workspace=workspace)
        grads = fast.lstm_backward(dhs, cache, dh_T, dc_T, workspace=workspace)
        hs_ref, final_ref, cache_ref = fast.lstm_forward(x, h0, c0, Wx, Wh, b)
        grads_ref = fast.lstm_backward(dhs, cache_ref, dh_T, dc_T)
        assert numpy.array_equal(hs, hs_ref)
        assert all(numpy.array_equal(a, r) for a, r in zip(final, final_ref))
        assert all(numpy.array_equal(a, r) for a, r in zip(grads, grads_ref))
        caches.append(cache)
    assert caches[0].gates is caches[1].gates is workspace["gates"]
    assert set(workspace) == {"gates", "cs", "tanh_cs", "dgates"}


@pytest.mark.parametrize("shape", [(7,), (3, 4), (2, 3, 5)])
def test_embedding_backward_tracks_agree(rng, shape):
    """The flat scatter-add of the speed track sums repeated ids like xp.add.at on the 2-D array."""
    V, D = 6, 4
    ids = rng.integers(0, V, size=shape)
    dout = rng.standard_normal(shape + (D,))
    _, cache = reading.embedding_forward(ids, numpy.zeros((V, D)))
    assert relative_error(fast.embedding_backward(dout, cache),
                          reading.embedding_backward(dout, cache)) < TOL


@pytest.mark.parametrize("shape", [(5, 7), (3, 2, 11), (1, 1, 2)])
def test_softmax_cross_entropy_tracks_agree(rng, shape):
    """Loss and gradient agree, also for logits large enough to overflow a naive exp."""
    logits = rng.standard_normal(shape) * 30 + 700
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    loss_r, d_r = reading.softmax_cross_entropy(logits, targets)
    loss_f, d_f = fast.softmax_cross_entropy(logits, targets)
    assert relative_error(loss_f, loss_r) < TOL and relative_error(d_f, d_r) < TOL


def test_every_reading_function_the_layers_call_exists_on_the_speed_track():
    """The layers call ``self.F.<name>``: both tracks must offer every one of those names."""
    from scratchlstm.nn.tracks import LAYER_FUNCTIONS

    for name in LAYER_FUNCTIONS:
        assert callable(getattr(fast, name)) and callable(getattr(reading, name)), name


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_whole_model_on_either_track_gives_the_same_gradients(rng, cell):
    """A 2-layer model with dropout and tied weights: logits, loss and every parameter gradient
    are the same whichever track the layers run."""
    ids = rng.integers(0, 11, size=(6, 3))
    targets = rng.integers(0, 11, size=(6, 3))
    results = {}
    for track in ("reading", "fast"):
        model = LSTMLanguageModel(11, 8, 8, num_layers=2, dropout=0.3, tie_weights=True, cell=cell,
                                  dtype="float64", seed=3, functional=track)
        logits, _ = model(ids)
        loss, dlogits = model.loss(logits, targets)
        model.backward(dlogits)
        results[track] = (logits, loss, {n: p.grad.copy() for n, p in model.named_parameters()})
    (lr, loss_r, gr), (lf, loss_f, gf) = results["reading"], results["fast"]
    assert relative_error(lf, lr) < TOL and relative_error(loss_f, loss_r) < TOL
    for name in gr:
        assert relative_error(gf[name], gr[name]) < TOL, name


def test_adam_class_equals_the_adam_step_rule(rng, monkeypatch):
    """``Adam`` (bias corrections folded into two scalars, updates in cache-sized pieces) makes
    the same updates as the textbook ``adam_step``, over 5 steps and a parameter cut in pieces."""
    import scratchlstm.optim as optim

    monkeypatch.setattr(optim, "CPU_PIECE_SIZE", 1000)
    shape = (30, 70)                                   # 2100 entries: three pieces
    p = Parameter(rng.standard_normal(shape))
    data, m, v = p.data.copy(), numpy.zeros(shape), numpy.zeros(shape)
    opt = Adam([p], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    for t in range(1, 6):
        g = rng.standard_normal(shape)
        p.grad = g.copy()
        opt.step()
        adam_step(data, g, m, v, t, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)
        assert relative_error(p.data, data) < TOL


def test_adamw_and_l2_adam_equal_adam_step_with_their_decay(rng):
    """AdamW shrinks the weights before the step; Adam's L2 adds wd * p to the gradient."""
    shape = (4, 5)
    for cls in (Adam, AdamW):
        p = Parameter(rng.standard_normal(shape))
        data, m, v = p.data.copy(), numpy.zeros(shape), numpy.zeros(shape)
        opt = cls([p], lr=0.02, weight_decay=0.1)
        for t in range(1, 4):
            g = rng.standard_normal(shape)
            p.grad = g.copy()
            opt.step()
            if cls is AdamW:
                data *= 1.0 - 0.02 * 0.1
                adam_step(data, g, m, v, t, lr=0.02)
            else:
                adam_step(data, g + 0.1 * data, m, v, t, lr=0.02)
            assert relative_error(p.data, data) < TOL, cls.__name__


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_class_equals_the_sgd_step_rule(rng, momentum):
    shape = (3, 4)
    p = Parameter(rng.standard_normal(shape))
    data, velocity = p.data.copy(), numpy.zeros(shape)
    opt = SGD([p], lr=0.1, momentum=momentum)
    for _ in range(4):
        g = rng.standard_normal(shape)
        p.grad = g.copy()
        opt.step()
        sgd_step(data, g, velocity, lr=0.1, momentum=momentum)
        assert relative_error(p.data, data) < TOL


@pytest.mark.parametrize("exp", [True, False], ids=["exp form (CPU)", "tanh form (GPU)"])
@pytest.mark.parametrize("dtype, tol", [(numpy.float64, 1e-15), (numpy.float32, 5e-7)])
def test_both_gate_forms_compute_the_gates(rng, exp, dtype, tol):
    """fast.activate_gates gives sigma(z) on i, f, o and tanh(z) on g, in either GateForm, from
    pre-activations scaled by the form's pre_scale; saturated pre-activations (+-1000, where the
    exp form's exp overflows to inf) give exactly 0, 1 and -1, without a warning."""
    import warnings
    H = 6
    z = rng.standard_normal((4, 4 * H)) * 3
    z[0, :], z[1, :] = 1000.0, -1000.0
    form = fast.gate_form(H, dtype, numpy, exp=exp)
    a = (z * form.pre_scale).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fast._overflow_allowed(numpy):
            fast.activate_gates(a, H, form, numpy)
    g = numpy.arange(4 * H) // H == 2
    truth = numpy.where(g, numpy.tanh(z), reading.sigmoid(z))
    assert numpy.abs(a - truth).max() < tol
    assert numpy.array_equal(a[0], numpy.ones(4 * H))
    assert numpy.array_equal(a[1], numpy.where(g, -1.0, 0.0))


@pytest.mark.parametrize("block_rows", [1, 3, 7, 100])
def test_the_loss_in_row_blocks_is_the_loss(rng, monkeypatch, block_rows):
    """On the CPU the loss works through the logits in row blocks that fit in a cache; whatever
    the block size, including a last block that is cut short, the loss and its gradient are the
    reading track's, and cross_entropy is softmax_cross_entropy's loss."""
    N, V = 7, 11
    logits = rng.standard_normal((N, V)) * 4
    targets = rng.integers(0, V, N)
    loss_r, dlogits_r = reading.softmax_cross_entropy(logits, targets)
    monkeypatch.setattr(fast, "CPU_BLOCK_NUMBERS", block_rows * V)
    assert [stop - start for start, stop in fast._row_blocks(N, V, numpy)][0] == min(block_rows, N)
    loss, dlogits = fast.softmax_cross_entropy(logits, targets)
    assert relative_error(loss, loss_r) < TOL and relative_error(dlogits, dlogits_r) < TOL
    assert relative_error(fast.cross_entropy(logits, targets), loss_r) < TOL
