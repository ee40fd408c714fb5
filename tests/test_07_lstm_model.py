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
