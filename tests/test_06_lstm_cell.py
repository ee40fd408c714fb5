"""Lesson 6 exercises: the LSTM cell, its backward pass, and the same equations through time."""
import numpy
import pytest

from scratchlstm.gradcheck import check_function, relative_error
from scratchlstm.nn import functional as F

TOL = 1e-7


def make_lstm_inputs(rng, T=4, B=3, D=5, H=6, scale=0.5):
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    c0 = rng.standard_normal((B, H))
    Wx = rng.standard_normal((D, 4 * H)) * scale
    Wh = rng.standard_normal((H, 4 * H)) * scale
    b = rng.standard_normal(4 * H) * scale
    return x, h0, c0, Wx, Wh, b


def test_lstm_step_with_zero_weights(impl):
    """With all weights zero every gate is sigmoid(0) = 1/2 and the candidate is tanh(0) = 0.

    So c = f * c_prev + i * g = c_prev / 2, and h = o * tanh(c) = tanh(c_prev / 2) / 2.
    """
    B, D, H = 2, 3, 4
    c_prev = numpy.full((B, H), 2.0)
    h, c, _ = impl.lstm_step_forward(numpy.ones((B, D)), numpy.ones((B, H)), c_prev,
                                  numpy.zeros((D, 4 * H)), numpy.zeros((H, 4 * H)), numpy.zeros(4 * H))
    assert numpy.allclose(c, 1.0)
    assert numpy.allclose(h, 0.5 * numpy.tanh(1.0))


def test_forget_gate_bias_keeps_the_cell(impl):
    """A forget-gate bias of +30 makes f = 1 and an input bias of -30 makes i = 0: c_t = c_{t-1}.

    This is the "conveyor belt": information in the cell passes unchanged through the step.
    """
    B, D, H = 2, 3, 4
    b = numpy.zeros(4 * H)
    b[:H] = -30.0        # input gate closed
    b[H:2 * H] = 30.0    # forget gate open (keep everything)
    rng = numpy.random.default_rng(0)
    c_prev = rng.standard_normal((B, H))
    _, c, _ = impl.lstm_step_forward(rng.standard_normal((B, D)), rng.standard_normal((B, H)), c_prev,
                                  rng.standard_normal((D, 4 * H)) * 0.1,
                                  rng.standard_normal((H, 4 * H)) * 0.1, b)
    assert numpy.allclose(c, c_prev, atol=1e-12)


def test_lstm_step_backward_matches_finite_differences(impl, rng):
    """Every gradient of one LSTM step (x, h_prev, c_prev, Wx, Wh, b), for the loss sum(h * w)."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)

    def forward(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = impl.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return h, cache

    def backward(dh, cache):
        return impl.lstm_step_backward(dh, numpy.zeros_like(dh), cache)

    result = check_function(forward, backward, [x[0], h0, c0, Wx, Wh, b],
                            names=["x", "h_prev", "c_prev", "Wx", "Wh", "b"])
    assert result.worst < TOL, str(result)


def test_lstm_step_backward_through_the_cell_output(impl, rng):
    """The cell state is an output too: a loss on c checks the dc path alone."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)

    def forward(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = impl.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return c, cache

    def backward(dc, cache):
        return impl.lstm_step_backward(numpy.zeros_like(dc), dc, cache)

    assert check_function(forward, backward, [x[0], h0, c0, Wx, Wh, b]).worst < TOL


def test_lstm_backward_of_a_single_step(impl, rng):
    """With T = 1 the only h_{t-1} is h0 (hs[:-1] is empty): the gradients are still exact."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng, T=1)

    def forward(x, h0, c0, Wx, Wh, b):
        hs, _, cache = impl.lstm_forward(x, h0, c0, Wx, Wh, b)
        return hs, cache

    def backward(dhs, cache):
        return impl.lstm_backward(dhs, cache)

    assert check_function(forward, backward, [x, h0, c0, Wx, Wh, b]).worst < TOL


def test_lstm_through_time_gradients_including_final_state(impl, rng):
    """Gradients flow from hs *and* from the final state (h_T, c_T) back to every input.

    The loss is sum(hs * w1) + sum(h_T * w2) + sum(c_T * w3); stacking layers and truncated BPTT
    both rely on the final-state path.
    """
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)

    def forward(x, h0, c0, Wx, Wh, b):
        hs, (h_T, c_T), cache = impl.lstm_forward(x, h0, c0, Wx, Wh, b)
        out = numpy.concatenate([hs, h_T[None], c_T[None]], axis=0)
        return out, cache

    def backward(dout, cache):
        T = dout.shape[0] - 2
        return impl.lstm_backward(dout[:T], cache, dh_T=dout[T], dc_T=dout[T + 1])

    result = check_function(forward, backward, [x, h0, c0, Wx, Wh, b],
                            names=["x", "h0", "c0", "Wx", "Wh", "b"])
    assert result.worst < TOL, str(result)


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_lstm_preserves_dtype(impl, rng, dtype):
    """An LSTM fed float32 computes in float32 end to end (no silent upcast to float64)."""
    arrays = [a.astype(dtype) for a in make_lstm_inputs(rng)]
    hs, (h_T, c_T), cache = impl.lstm_forward(*arrays)
    assert hs.dtype == h_T.dtype == c_T.dtype == dtype
    assert all(g.dtype == dtype for g in impl.lstm_backward(hs, cache))


def test_lstm_rejects_wrong_shapes(rng):
    """Wh of the wrong size is named in the error with the shape that was expected."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)
    with pytest.raises(ValueError, match="Wh must have shape"):
        F.lstm_forward(x, h0, c0, Wx, Wh[:, :-1], b)
    with pytest.raises(ValueError, match=r"\(T, B, D\)"):
        F.lstm_forward(x[0], h0, c0, Wx, Wh, b)


# ----------------------------------------------------------------------------------------------
# Exercises of lesson 6 (lessons/06_lstm_cell.ipynb)
# ----------------------------------------------------------------------------------------------
def test_exercise_6_1_a_step_computed_by_hand(impl):
    """Exercise 6.1: choose Wx so that i = 0.8, f = 0.5, g = 0.6, o = 0.25; predict c and h.

    With x = 1, h_prev = 0 and b = 0 the pre-activations are just the entries of Wx. Using
    sigma(ln r) = r / (1 + r) and tanh(ln r) = (r^2 - 1) / (r^2 + 1): sigma(ln 4) = 0.8,
    sigma(0) = 0.5, tanh(ln 2) = 0.6, sigma(-ln 3) = 0.25. Then with c_prev = 1,
    c = f c_prev + i g = 0.5 + 0.48 = 0.98 and h = o tanh(c) = 0.25 tanh(0.98).
    """
    Wx = numpy.array([[numpy.log(4), 0.0, numpy.log(2), -numpy.log(3)]])
    h, c, cache = impl.lstm_step_forward(numpy.ones((1, 1)), numpy.zeros((1, 1)), numpy.ones((1, 1)),
                                      Wx, numpy.zeros((1, 4)), numpy.zeros(4))
    i, f, g, o = (gate.item() for gate in (cache.i, cache.f, cache.g, cache.o))
    assert numpy.allclose([i, f, g, o], [0.8, 0.5, 0.6, 0.25], atol=1e-15)
    assert numpy.isclose(c.item(), 0.98, atol=1e-15)
    assert numpy.isclose(h.item(), 0.25 * numpy.tanh(0.98), atol=1e-15)


def test_exercise_6_2_an_open_forget_gate_carries_value_and_gradient_unchanged(impl, rng):
    """Exercise 6.2: with f = 1 and i = 0, c_T = c_0 and dL/dc_0 = dL/dc_T after 100 steps.

    c_t = f c_{t-1} + i g = c_{t-1} when f = 1 and i = 0, whatever the input: the cell is a
    conveyor belt. Backwards, dc_{t-1} = dc_t * f = dc_t at every step, and the other paths are
    shut: they all pass through f(1 - f), i, or i(1 - i), which are below 1e-13 here. So the
    gradient arrives at c_0 undiminished after 100 steps, where the vanilla RNN of lesson 5 lost
    fifteen orders of magnitude in 50. (sigma(30) = 1 - 9e-14, so "equal" means to ~1e-11.)
    """
    T, B, D, H = 100, 2, 3, 4
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng, T=T, B=B, D=D, H=H)
    b[:H] = -30.0            # input gate shut
    b[H:2 * H] = 30.0        # forget gate open
    hs, (h_T, c_T), cache = impl.lstm_forward(x, h0, c0, Wx, Wh, b)
    assert numpy.allclose(c_T, c0, rtol=0, atol=1e-10)
    dc_T = rng.standard_normal((B, H))
    _, dh0, dc0, _, _, _ = impl.lstm_backward(None, cache, dc_T=dc_T)
    assert numpy.allclose(dc0, dc_T, rtol=0, atol=1e-10)
    assert numpy.abs(dh0).max() < 1e-10


def test_exercise_6_3_along_the_cell_the_gradient_is_scaled_by_the_forget_gates(rng):
    """Exercise 6.3: with Wh = 0 and a loss on c_T, dL/dc_0 = dc_T * prod_t f_t.

    With Wh = 0 the gates are functions of x_t alone, so c_{t-1} influences the loss only through
    c_t = f_t c_{t-1} + i_t g_t, whose derivative is f_t. The chain rule multiplies the T factors
    elementwise. (With Wh != 0 there would be extra paths c_{t-1} -> h_{t-1} -> gates at t.)
    """
    from scratchlstm.nn.layers import LSTMLayer

    T, B, D, H = 15, 2, 3, 4
    layer = LSTMLayer(D, H, rng=rng, dtype="float64", forget_bias=1.0)
    layer.Wh.data[...] = 0.0
    x = rng.standard_normal((T, B, D))
    layer(x, rng.standard_normal((B, H)), rng.standard_normal((B, H)))
    f = layer.activations()["f"].copy()                      # (T, B, H)
    dc_T = rng.standard_normal((B, H))
    _, _, dc0 = layer.backward(None, dc_T=dc_T)
    assert numpy.allclose(dc0, dc_T * f.prod(axis=0), rtol=1e-12, atol=0)
    assert 0.3 < f.mean() < 0.95                              # gates are genuinely in between


def test_exercise_6_4_the_forget_bias_gradient_by_hand(impl):
    """Exercise 6.4: for L = h in the lesson's hand example, dL/db_f = o (1 - tanh^2 c) c_prev f (1 - f).

    Backwards through the four steps with dh = 1 and dc = 0: step 1 gives
    dc_t = dh o (1 - tanh^2 c_t); step 2 gives df = dc_t c_prev; step 3 gives
    da_f = df f (1 - f); step 4 gives db = da summed over rows (one row here), so db_f = da_f.
    With o = 4/5, c_t = 1.8, c_prev = 2, f = 3/4 this is 0.8 * (1 - tanh(1.8)^2) * 2 * 3/16.
    """
    Wx = numpy.array([[0.0, numpy.log(3), numpy.log(2), numpy.log(4)]])
    _, _, cache = impl.lstm_step_forward(numpy.ones((1, 1)), numpy.zeros((1, 1)), numpy.full((1, 1), 2.0),
                                      Wx, numpy.zeros((1, 4)), numpy.zeros(4))
    *_, db = impl.lstm_step_backward(numpy.ones((1, 1)), numpy.zeros((1, 1)), cache)
    by_hand = 0.8 * (1 - numpy.tanh(1.8) ** 2) * 2.0 * 0.75 * 0.25
    assert numpy.isclose(db[1], by_hand, rtol=1e-12)
    assert numpy.isclose(by_hand, 0.031067, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# The workbook ladder (lstm.py): values, gradients or cache, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('lstm_step_forward', 'lstm_step_backward'))
def test_ladder(ladder, name):
    ladder(name)
