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


def test_lstm_step_with_zero_weights():
    """With all weights zero every gate is sigmoid(0) = 1/2 and the candidate is tanh(0) = 0.

    So c = f * c_prev + i * g = c_prev / 2, and h = o * tanh(c) = tanh(c_prev / 2) / 2.
    """
    B, D, H = 2, 3, 4
    c_prev = numpy.full((B, H), 2.0)
    h, c, _ = F.lstm_step_forward(numpy.ones((B, D)), numpy.ones((B, H)), c_prev,
                                  numpy.zeros((D, 4 * H)), numpy.zeros((H, 4 * H)), numpy.zeros(4 * H))
    assert numpy.allclose(c, 1.0)
    assert numpy.allclose(h, 0.5 * numpy.tanh(1.0))


def test_forget_gate_bias_keeps_the_cell():
    """A forget-gate bias of +30 makes f = 1 and an input bias of -30 makes i = 0: c_t = c_{t-1}.

    This is the "conveyor belt": information in the cell passes unchanged through the step.
    """
    B, D, H = 2, 3, 4
    b = numpy.zeros(4 * H)
    b[:H] = -30.0        # input gate closed
    b[H:2 * H] = 30.0    # forget gate open (keep everything)
    rng = numpy.random.default_rng(0)
    c_prev = rng.standard_normal((B, H))
    _, c, _ = F.lstm_step_forward(rng.standard_normal((B, D)), rng.standard_normal((B, H)), c_prev,
                                  rng.standard_normal((D, 4 * H)) * 0.1,
                                  rng.standard_normal((H, 4 * H)) * 0.1, b)
    assert numpy.allclose(c, c_prev, atol=1e-12)


def test_lstm_step_backward_matches_finite_differences(rng):
    """Every gradient of one LSTM step (x, h_prev, c_prev, Wx, Wh, b), for the loss sum(h * w)."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)

    def forward(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = F.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return h, cache

    def backward(dh, cache):
        return F.lstm_step_backward(dh, numpy.zeros_like(dh), cache)

    result = check_function(forward, backward, [x[0], h0, c0, Wx, Wh, b],
                            names=["x", "h_prev", "c_prev", "Wx", "Wh", "b"])
    assert result.worst < TOL, str(result)


def test_lstm_step_backward_through_the_cell_output(rng):
    """The cell state is an output too: a loss on c checks the dc path alone."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)

    def forward(x, h_prev, c_prev, Wx, Wh, b):
        h, c, cache = F.lstm_step_forward(x, h_prev, c_prev, Wx, Wh, b)
        return c, cache

    def backward(dc, cache):
        return F.lstm_step_backward(numpy.zeros_like(dc), dc, cache)

    assert check_function(forward, backward, [x[0], h0, c0, Wx, Wh, b]).worst < TOL


def test_fast_lstm_forward_equals_the_step_loop(rng):
    """The optimised lstm_forward computes the very same numbers as calling the step T times."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng, T=7)
    hs, (h_T, c_T), _ = F.lstm_forward(x, h0, c0, Wx, Wh, b)
    h, c = h0, c0
    for t in range(x.shape[0]):
        h, c, _ = F.lstm_step_forward(x[t], h, c, Wx, Wh, b)
        assert numpy.allclose(hs[t], h, atol=1e-14)
    assert numpy.allclose(h_T, h, atol=1e-14) and numpy.allclose(c_T, c, atol=1e-14)


def test_fast_lstm_backward_equals_the_step_loop(rng):
    """Backprop through time by hand (step_backward, reversed) equals the fused lstm_backward."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng, T=5)
    hs, _, cache = F.lstm_forward(x, h0, c0, Wx, Wh, b)
    dhs = rng.standard_normal(hs.shape)
    fast = F.lstm_backward(dhs, cache)

    caches, h, c = [], h0, c0
    for t in range(x.shape[0]):
        h, c, step_cache = F.lstm_step_forward(x[t], h, c, Wx, Wh, b)
        caches.append(step_cache)
    dx = numpy.zeros_like(x)
    dWx, dWh, db = numpy.zeros_like(Wx), numpy.zeros_like(Wh), numpy.zeros_like(b)
    dh_next, dc_next = numpy.zeros_like(h0), numpy.zeros_like(c0)
    for t in reversed(range(x.shape[0])):
        dx[t], dh_next, dc_next, dWx_t, dWh_t, db_t = F.lstm_step_backward(dhs[t] + dh_next, dc_next, caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    for got, want in zip(fast, (dx, dh_next, dc_next, dWx, dWh, db)):
        assert relative_error(got, want) < 1e-12


def test_lstm_through_time_gradients_including_final_state(rng):
    """Gradients flow from hs *and* from the final state (h_T, c_T) back to every input.

    The loss is sum(hs * w1) + sum(h_T * w2) + sum(c_T * w3); stacking layers and truncated BPTT
    both rely on the final-state path.
    """
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)
    H = h0.shape[1]
    w = rng.standard_normal((2, h0.shape[0], H))

    def forward(x, h0, c0, Wx, Wh, b):
        hs, (h_T, c_T), cache = F.lstm_forward(x, h0, c0, Wx, Wh, b)
        out = numpy.concatenate([hs, h_T[None], c_T[None]], axis=0)
        return out, cache

    def backward(dout, cache):
        T = dout.shape[0] - 2
        return F.lstm_backward(dout[:T], cache, dh_T=dout[T], dc_T=dout[T + 1])

    result = check_function(forward, backward, [x, h0, c0, Wx, Wh, b],
                            names=["x", "h0", "c0", "Wx", "Wh", "b"])
    assert result.worst < TOL, str(result)
    del w


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_lstm_preserves_dtype(rng, dtype):
    """An LSTM fed float32 computes in float32 end to end (no silent upcast to float64)."""
    arrays = [a.astype(dtype) for a in make_lstm_inputs(rng)]
    hs, (h_T, c_T), cache = F.lstm_forward(*arrays)
    assert hs.dtype == h_T.dtype == c_T.dtype == dtype
    assert all(g.dtype == dtype for g in F.lstm_backward(hs, cache))


def test_lstm_rejects_wrong_shapes(rng):
    """Wh of the wrong size is named in the error with the shape that was expected."""
    x, h0, c0, Wx, Wh, b = make_lstm_inputs(rng)
    with pytest.raises(ValueError, match="Wh must have shape"):
        F.lstm_forward(x, h0, c0, Wx, Wh[:, :-1], b)
    with pytest.raises(ValueError, match=r"\(T, B, D\)"):
        F.lstm_forward(x[0], h0, c0, Wx, Wh, b)
