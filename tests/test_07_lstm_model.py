"""Lesson 7 exercises: stacked LSTMs, the whole language model, carrying state, overfitting."""
import math

import numpy
import pytest

from scratchlstm import LSTM, Adam, LSTMLanguageModel, check_model, clip_grad_norm, softmax_cross_entropy

V = 11


def small_model(**kwargs):
    options = dict(vocab_size=V, embed_dim=6, hidden_dim=6, num_layers=2, dtype="float64", seed=1,
                   init="uniform", init_range=0.5)
    options.update(kwargs)
    return LSTMLanguageModel(**options)


def tokens(rng, T=5, B=3):
    return rng.integers(0, V, size=(T, B)), rng.integers(0, V, size=(T, B))


@pytest.mark.parametrize("tie_weights", [False, True])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_whole_model_gradients_match_finite_differences(rng, tie_weights, dropout):
    """Every parameter of a 2-layer model (tied or not, dropout or not) has the right gradient.

    Dropout masks are re-seeded before every forward pass, so the loss is a deterministic function
    of the weights and central differences apply. The worst relative error must stay below 1e-6.
    """
    model = small_model(tie_weights=tie_weights, dropout=dropout)
    ids, targets = tokens(rng)
    result = check_model(model.train(), ids, targets)
    assert result.passed(1e-6), str(result)


def test_locked_dropout_model_gradients(rng):
    """The same check with locked (variational) dropout masks."""
    model = small_model(dropout=0.4, locked_dropout=True)
    ids, targets = tokens(rng)
    assert check_model(model.train(), ids, targets).passed(1e-6)


def test_gradients_reach_the_initial_state_path(rng):
    """With a non-zero initial state the check still passes (the state is an input, not a weight)."""
    model = small_model()
    ids, targets = tokens(rng)
    state = tuple(rng.standard_normal((2, 3, 6)) for _ in range(2))
    assert check_model(model, ids, targets, state=state).passed(1e-6)


def test_carrying_state_equals_one_long_sequence(rng):
    """Truncated BPTT splits a sequence into windows but must not change the forward pass.

    Running 8 steps at once, or 5 steps then 3 steps starting from the returned state, gives the
    same logits.
    """
    model = small_model().eval()
    ids = rng.integers(0, V, size=(8, 2))
    full, _ = model(ids)
    first, state = model(ids[:5])
    second, _ = model(ids[5:], state)
    assert numpy.allclose(numpy.concatenate([first, second]), full, atol=1e-13)


def test_stacked_lstm_shapes():
    """A 3-layer LSTM maps (T, B, D) to (T, B, H) and returns (layers, B, H) final states."""
    lstm = LSTM(4, 7, num_layers=3)
    hs, (h, c) = lstm(numpy.zeros((5, 2, 4), dtype=numpy.float32))
    assert hs.shape == (5, 2, 7) and h.shape == c.shape == (3, 2, 7)
    dx, (dh0, dc0) = lstm.backward(numpy.ones_like(hs))
    assert dx.shape == (5, 2, 4) and dh0.shape == (3, 2, 7)


def test_tied_weights_are_counted_once():
    """Tying shares the V x E matrix: the tied model has exactly V*E (untied weight) fewer params."""
    untied = LSTMLanguageModel(100, 16, 16, 1)
    tied = LSTMLanguageModel(100, 16, 16, 1, tie_weights=True)
    assert untied.num_parameters() - tied.num_parameters() == 100 * 16
    assert "decoder.tied_weight" not in dict(tied.named_parameters())


def test_tie_weights_needs_equal_sizes():
    """The decoder reuses the embedding, so embed_dim must equal hidden_dim."""
    with pytest.raises(ValueError, match="embed_dim == hidden_dim"):
        LSTMLanguageModel(10, 8, 16, tie_weights=True)


def test_same_seed_same_model():
    """Two models built with seed 7 are identical; seed 8 differs (initialisation is seeded)."""
    a, b, c = (LSTMLanguageModel(20, 8, 8, 2, seed=s) for s in (7, 7, 8))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(numpy.array_equal(sa[k], sb[k]) for k in sa)
    assert not numpy.array_equal(sa["lstm.layers.0.Wx"], sc["lstm.layers.0.Wx"])


def test_uniform_init_respects_its_range():
    """init='uniform', init_range=0.1 (Zaremba et al.) keeps every weight inside [-0.1, 0.1]."""
    model = LSTMLanguageModel(50, 20, 20, 2, init="uniform", init_range=0.1)
    assert all(abs(p.data).max() <= 0.1 for p in model.parameters())


def test_forget_bias_option():
    """forget_bias=1 sets the f block of every LSTM bias to 1 and leaves the others at 0."""
    model = LSTMLanguageModel(10, 4, 5, 2, forget_bias=1.0)
    for layer in model.lstm.layers:
        b = layer.b.data
        assert numpy.all(b[5:10] == 1.0) and numpy.all(b[:5] == 0) and numpy.all(b[10:] == 0)


def test_float64_move_for_gradient_checks():
    """model.to(dtype='float64') converts every parameter and its gradient buffer."""
    model = LSTMLanguageModel(10, 4, 4).to(dtype="float64")
    assert all(p.data.dtype == numpy.float64 and p.grad.dtype == numpy.float64 for p in model.parameters())


def test_state_dict_round_trip_and_shape_errors():
    """A state dict restores a model exactly; one from a different size is refused by name."""
    a, b = LSTMLanguageModel(12, 4, 4, seed=1), LSTMLanguageModel(12, 4, 4, seed=2)
    b.load_state_dict(a.state_dict())
    assert all(numpy.array_equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    bigger = LSTMLanguageModel(12, 4, 5)
    with pytest.raises(ValueError, match="lstm.layers.0.Wx"):
        bigger.load_state_dict(a.state_dict())
    with pytest.raises(KeyError, match="missing"):
        a.load_state_dict({})


def test_out_of_range_token_ids_are_an_error():
    """Token id 11 in a model of 11 tokens is refused (on a GPU it would wrap around silently)."""
    model = LSTMLanguageModel(11, 4, 4)
    with pytest.raises(ValueError, match="token id 11"):
        model(numpy.array([[1, 11]]))
    with pytest.raises(ValueError, match=r"\(T, B\)"):
        model(numpy.array([1, 2, 3]))
    with pytest.raises(TypeError, match="integer"):
        model(numpy.array([[0.5]]))


def test_backward_before_forward_is_explained():
    """Calling backward without a forward pass is a RuntimeError that says to run forward first."""
    model = LSTMLanguageModel(11, 4, 4)
    with pytest.raises(RuntimeError, match="forward"):
        model.backward(numpy.zeros((2, 2, 11), dtype=numpy.float32))


def test_a_fresh_model_is_close_to_uniform():
    """Before training, a small-init model predicts almost uniformly: loss ~ log V."""
    model = LSTMLanguageModel(200, 16, 16, init="uniform", init_range=0.01)
    ids = numpy.arange(40).reshape(20, 2) % 200
    logits, _ = model(ids)
    loss, _ = softmax_cross_entropy(logits, ids)
    assert abs(float(loss) - math.log(200)) < 0.01


def test_overfit_a_short_sequence():
    """The classic sanity check: a 2-layer model memorises a 24-token sequence to near-zero loss.

    If the forward/backward pair were wrong in any way that matters, the loss would stall.
    """
    text = numpy.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3])
    ids, targets = text[:-1, None], text[1:, None]
    model = LSTMLanguageModel(10, 16, 32, 2, seed=0)
    opt = Adam(model.parameters(), lr=0.02)
    for _ in range(250):
        logits, _ = model(ids)
        loss, dlogits = softmax_cross_entropy(logits, targets)
        model.zero_grad()
        model.backward(dlogits)
        clip_grad_norm(model.parameters(), 5.0)
        opt.step()
    assert float(loss) < 0.02


# ----------------------------------------------------------------------------------------------
# Exercises of lesson 7 (lessons/07_lstm_through_time_and_stacking.ipynb)
# ----------------------------------------------------------------------------------------------
def test_exercise_7_1_one_matrix_product_sums_over_time(impl, rng):
    """Exercise 7.1: sum_t x_t^T da_t equals one product of the (T*B, D) and (T*B, 4H) matrices.

    Entry (d, j) of x2^T da2, with x2 = x.reshape(T*B, D), is the sum over all T*B rows of
    x[t, b, d] * da[t, b, j], which is the sum over t of entry (d, j) of x_t^T da_t. So the weight
    gradient of a whole sequence is one big GEMM, and lstm_backward's dWx must equal the sum of the
    per-step dWx of a backward loop over lstm_step_backward.
    """
    from scratchlstm.nn import functional as F

    T, B, D, H = 6, 3, 5, 4
    x = rng.standard_normal((T, B, D))
    da = rng.standard_normal((T, B, 4 * H))
    looped = sum(x[t].T @ da[t] for t in range(T))
    assert numpy.allclose(x.reshape(T * B, D).T @ da.reshape(T * B, 4 * H), looped, atol=1e-13)

    h0, c0 = rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wx, Wh, b = (rng.standard_normal(s) * 0.5 for s in ((D, 4 * H), (H, 4 * H), (4 * H,)))
    hs, _, cache = impl.lstm_forward(x, h0, c0, Wx, Wh, b)
    dhs = rng.standard_normal(hs.shape)
    dWx_fast = impl.lstm_backward(dhs, cache)[3]
    caches, h, c = [], h0, c0
    for t in range(T):
        h, c, step_cache = impl.lstm_step_forward(x[t], h, c, Wx, Wh, b)
        caches.append(step_cache)
    dWx_loop = numpy.zeros_like(Wx)
    dh_next, dc_next = numpy.zeros_like(h0), numpy.zeros_like(c0)
    for t in reversed(range(T)):
        _, dh_next, dc_next, dWx_t, _, _ = impl.lstm_step_backward(dhs[t] + dh_next, dc_next, caches[t])
        dWx_loop += dWx_t
    assert numpy.allclose(dWx_fast, dWx_loop, rtol=1e-12, atol=1e-13)


def test_exercise_7_2_counting_parameters():
    """Exercise 7.2: an untied 2-layer model has V*E + 4H(E+H+1) + 4H(2H+1) + H*V + V parameters.

    Embedding V x E; layer 0 reads E-dimensional inputs: Wx (E, 4H), Wh (H, 4H), b (4H); layer 1
    reads the H-dimensional outputs of layer 0: Wx (H, 4H), Wh (H, 4H), b (4H); decoder weight
    (H, V) and bias (V). Tying reuses the embedding as the decoder weight, saving H*V = V*E
    parameters (tying needs E = H). The decoder bias is never shared.
    """
    V, E, H = 50, 16, 24
    expected = V * E + 4 * H * (E + H + 1) + 4 * H * (2 * H + 1) + H * V + V
    assert LSTMLanguageModel(V, E, H, num_layers=2).num_parameters() == expected
    untied = LSTMLanguageModel(V, H, H, num_layers=2).num_parameters()
    tied = LSTMLanguageModel(V, H, H, num_layers=2, tie_weights=True).num_parameters()
    assert untied - tied == V * H


def test_exercise_7_3_the_batchify_grid_by_hand():
    """Exercise 7.3: 26 tokens, B = 4 -> T = 6 rows; column 2 is 12..17; tokens 24, 25 are dropped.

    batchify cuts the stream into B contiguous pieces of T = 26 // 4 = 6 tokens (column b is
    ids[6b : 6b + 6]) and drops the 26 - 24 = 2 tokens that do not fill a row. bptt_windows with
    bptt = 2 walks the T - 1 = 5 input rows (the last row is only a target): windows cover rows
    0-1, 2-3 and 4, so there are ceil(5 / 2) = 3 windows and the last has length 1. The second
    window's inputs are rows 2-3 and its targets rows 3-4, one step ahead.
    """
    from scratchlstm.text import batchify, bptt_windows

    data = batchify(numpy.arange(26), 4)
    assert data.shape == (6, 4)
    assert data[:, 2].tolist() == [12, 13, 14, 15, 16, 17]
    assert not numpy.isin([24, 25], data).any()
    windows = list(bptt_windows(data, 2))
    assert len(windows) == 3 and len(windows[-1][0]) == 1
    inputs, targets = windows[1]
    assert inputs.tolist() == [[2, 8, 14, 20], [3, 9, 15, 21]]
    assert targets.tolist() == [[3, 9, 15, 21], [4, 10, 16, 22]]


def test_exercise_7_4_truncation_cuts_the_gradient_at_the_window_edge(rng):
    """Exercise 7.4: loss on window 2 only: same dx inside window 2, nothing in window 1 when truncated.

    The loss depends on x_t (t in window 2) only through the steps t..end, which are computed from
    the same state and the same inputs in both runs, so those gradients agree. With full BPTT the
    gradient also flows from h_W back into the steps of window 1; with truncation the backward
    pass of window 2 starts at its own first step, and window 1 (whose backward is never run for
    this loss) gets nothing.
    """
    lstm = LSTM(3, 8, num_layers=2, dtype="float64", seed=2)
    T, W = 12, 6
    x = rng.standard_normal((T, 2, 3))
    w = rng.standard_normal((T - W, 2, 8))

    hs, _ = lstm(x)
    dhs = numpy.zeros_like(hs)
    dhs[W:] = w
    dx_full, _ = lstm.backward(dhs)

    _, state = lstm(x[:W])
    lstm(x[W:], state)
    dx_window2, _ = lstm.backward(w)

    assert numpy.allclose(dx_window2, dx_full[W:], atol=1e-14)
    assert numpy.abs(dx_full[:W]).max() > 1e-4     # full BPTT reaches window 1, truncation does not


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("tie_weights", [False, True])
def test_parameter_count_formula(cell, tie_weights):
    """count_parameters predicts num_parameters() from the shape alone, for every cell type:
    V*E + per layer G*H*(D + H + biases) + H*V (untied) + V."""
    from scratchlstm.models import count_parameters

    model = LSTMLanguageModel(50, 12, 12, 3, cell=cell, tie_weights=tie_weights)
    assert count_parameters(50, 12, 12, 3, cell, tie_weights) == model.num_parameters()


# ----------------------------------------------------------------------------------------------
# The workbook ladder (lstm.py): values, gradients or cache, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('lstm_forward', 'lstm_backward'))
def test_ladder(ladder, name):
    ladder(name)
