"""Lesson 12 exercises: dropout (standard and locked), weight tying, parameter counts, and
gradient checks of the RNN and GRU through time."""
import numpy
import pytest

from scratchlstm import LSTMLanguageModel, check_function, softmax_cross_entropy
from scratchlstm.models import count_parameters
from scratchlstm.nn.functional import gru_backward, gru_forward, rnn_backward, rnn_forward


def test_exercise_12_1_inverted_dropout_keeps_the_mean(impl):
    """Exercise 12.1: for p = 0.3 on a large array of ones, about 30% of the outputs are zero,
    every survivor equals 1/0.7, and the mean is close to 1.

    Each entry survives with probability 0.7 and is then scaled by 1/0.7, so its expectation is
    0.7 * (1/0.7) = 1. With 100,000 entries the standard deviation of the dropped fraction is
    sqrt(0.3 * 0.7 / 1e5) ~ 0.0015, so a tolerance of 0.01 is about six standard deviations.
    """
    x = numpy.ones((100, 10, 100), dtype=numpy.float32)
    out, _ = impl.dropout_forward(x, 0.3, numpy.random.default_rng(0))
    assert abs(numpy.mean(out == 0) - 0.3) < 0.01
    assert numpy.allclose(out[out != 0], 1 / 0.7)
    assert abs(out.mean() - 1.0) < 0.01
    assert out.dtype == numpy.float32


def test_exercise_12_2_locked_masks_are_constant_in_time(impl):
    """Exercise 12.2: a locked mask is the same at every time step (and differs between the
    sequences of a batch); a standard mask changes from step to step.

    Locked dropout draws a mask of shape (1, B, D) that broadcasts over time; standard dropout
    draws (T, B, D). With 2 x 32 features and p = 0.5 two independent masks coincide with
    probability 2**-32, so "differs" is safe to assert.
    """
    x = numpy.ones((20, 2, 32))
    locked, mask = impl.dropout_forward(x, 0.5, numpy.random.default_rng(0), locked=True)
    assert mask.shape == (1, 2, 32)
    assert all(numpy.array_equal(locked[t], locked[0]) for t in range(20))
    assert not numpy.array_equal(locked[0, 0], locked[0, 1])
    standard, mask = impl.dropout_forward(x, 0.5, numpy.random.default_rng(0), locked=False)
    assert mask.shape == (20, 2, 32)
    assert not all(numpy.array_equal(standard[t], standard[0]) for t in range(20))


def test_exercise_12_3_weight_tying_counts_and_gradients():
    """Exercise 12.3: tying saves exactly H * V parameters, and the tied embedding's gradient is
    the embedding gradient plus the transposed decoder gradient of an untied model with the same
    weights.

    The tied decoder uses W = E^T, so the loss depends on E through two paths; by the chain rule
    its gradient is the sum of the two path gradients, dE_embedding + (dW)^T. Accumulating both
    into one Parameter.grad does exactly this.
    """
    V, H = 23, 8
    tied = LSTMLanguageModel(V, H, H, 2, tie_weights=True, dtype="float64", seed=0)
    untied = LSTMLanguageModel(V, H, H, 2, tie_weights=False, dtype="float64", seed=0)
    assert untied.num_parameters() - tied.num_parameters() == H * V
    state = tied.state_dict()
    state["decoder.weight"] = state["embedding.weight"].T.copy()
    untied.load_state_dict(state)

    rng = numpy.random.default_rng(0)
    ids, targets = rng.integers(0, V, (7, 3)), rng.integers(0, V, (7, 3))
    for model in (tied, untied):
        logits, _ = model(ids)
        _, dlogits = softmax_cross_entropy(logits, targets)
        model.zero_grad()
        model.backward(dlogits)
    expected = untied.embedding.weight.grad + untied.decoder.weight.grad.T
    assert numpy.allclose(tied.embedding.weight.grad, expected, atol=1e-14)
    assert not numpy.allclose(tied.embedding.weight.grad, untied.embedding.weight.grad)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_exercise_12_4_parameter_count_formula(cell):
    """Exercise 12.4: write a function that counts the parameters of LSTMLanguageModel for any
    cell, number of layers and tying (the worked solution is the library's count_parameters),
    and check it against num_parameters(), which counts the arrays the model really built.

    Per layer, with input size D (E for the first layer, H above it): the RNN has one block
    H(D + H) + H, the GRU three blocks and two bias vectors, 3H(D + H) + 6H, the LSTM four blocks
    and one bias, 4H(D + H) + 4H. Then the embedding VE and the decoder HV + V (only V if tied).
    """
    for V, E, H, L in ((10, 4, 6, 1), (50, 16, 32, 2), (97, 32, 32, 3)):
        for tied in ((False, True) if E == H else (False,)):
            model = LSTMLanguageModel(V, E, H, L, cell=cell, tie_weights=tied)
            assert count_parameters(V, E, H, L, cell, tied) == model.num_parameters()
    # by hand for V=10, E=4, H=6: embedding 40 + decoder 60 + 10, plus the layer:
    # RNN 6*10 + 6 = 66, GRU 3*6*10 + 36 = 216, LSTM 4*6*10 + 24 = 264
    assert count_parameters(10, 4, 6, 1, cell) == {"rnn": 176, "gru": 326, "lstm": 374}[cell]


def test_exercise_12_5_gradient_check_through_time():
    """Exercise 12.5: gradient-check rnn_forward/rnn_backward and gru_forward/gru_backward over a
    whole sequence in float64, the initial state included.

    The through-time functions return (hs, h_T, cache); check_function wants (y, cache), so we
    wrap them to expose hs. Central differences in float64 with h = 1e-5 agree with a correct
    backward pass to ~1e-9 or better; a mistake in how gradients flow back through time (for
    example forgetting to add dh_next) gives errors of order 1e-1.
    """
    rng = numpy.random.default_rng(0)
    T, B, D, H = 5, 2, 3, 4
    x, h0 = rng.normal(size=(T, B, D)), rng.normal(size=(B, H))

    def rnn_pair(*args):
        hs, _, cache = rnn_forward(*args)
        return hs, cache

    result = check_function(rnn_pair, rnn_backward,
                            [x, h0, rng.normal(size=(D, H)) * 0.5, rng.normal(size=(H, H)) * 0.5,
                             rng.normal(size=H) * 0.1], names=["x", "h0", "Wx", "Wh", "b"])
    assert result.passed(1e-8), str(result)

    def gru_pair(*args):
        hs, _, cache = gru_forward(*args)
        return hs, cache

    result = check_function(gru_pair, gru_backward,
                            [x, h0, rng.normal(size=(D, 3 * H)) * 0.5, rng.normal(size=(H, 3 * H)) * 0.5,
                             rng.normal(size=3 * H) * 0.1, rng.normal(size=3 * H) * 0.1],
                            names=["x", "h0", "Wx", "Wh", "bx", "bh"])
    assert result.passed(1e-8), str(result)
    assert set(result.errors) == {"x", "h0", "Wx", "Wh", "bx", "bh"}


# ----------------------------------------------------------------------------------------------
# The workbook ladder (layers.py): values, gradients or cache, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('dropout_forward', 'dropout_backward'))
def test_ladder(ladder, name):
    ladder(name)
