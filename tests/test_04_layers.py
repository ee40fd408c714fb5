"""Lesson 4 exercises: embedding, linear layer and softmax cross-entropy, checked by hand and by
finite differences (float64)."""
import math

import numpy
import pytest

from scratchlstm.gradcheck import check_function, numerical_gradient, relative_error
from scratchlstm.nn import functional as F

TOL = 1e-7


def test_affine_on_a_hand_worked_example():
    """y = xW + b for x = [1, 2], W = [[1, 0, 2], [0, 1, 3]], b = [0.5, 0, -1] is [1.5, 2, 7]."""
    x = numpy.array([[1.0, 2.0]])
    W = numpy.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])
    b = numpy.array([0.5, 0.0, -1.0])
    y, _ = F.affine_forward(x, W, b)
    assert y.tolist() == [[1.5, 2.0, 7.0]]


@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 4)])
def test_affine_gradients(rng, shape):
    """Do dx, dW, db of the affine layer match central differences for (N, D) and (T, B, D)?"""
    x = rng.standard_normal(shape)
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    result = check_function(F.affine_forward, F.affine_backward, [x, W, b], names=["x", "W", "b"])
    assert result.worst < TOL, str(result)


def test_affine_rejects_mismatched_shapes(rng):
    """x with 5 features cannot meet W with 4 rows: the error names both shapes."""
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        F.affine_forward(rng.standard_normal((2, 5)), rng.standard_normal((4, 3)), numpy.zeros(3))


def test_embedding_gradient_with_repeated_ids(rng):
    """Token 2 appears three times: its gradient row is the sum of the three upstream rows."""
    W = rng.standard_normal((5, 3))
    ids = numpy.array([[2, 0], [2, 2]])
    out, cache = F.embedding_forward(ids, W)
    assert numpy.array_equal(out[1, 0], W[2])
    dout = rng.standard_normal((2, 2, 3))
    dW = F.embedding_backward(dout, cache)
    assert numpy.allclose(dW[2], dout[0, 0] + dout[1, 0] + dout[1, 1])
    assert numpy.allclose(dW[0], dout[0, 1])
    assert numpy.all(dW[[1, 3, 4]] == 0)
    result = check_function(F.embedding_forward, lambda d, c: (None, F.embedding_backward(d, c)),
                            [ids, W], check=[1])
    assert result.worst < TOL


def test_uniform_logits_give_log_vocab_loss():
    """A model that spreads probability evenly over V = 50 tokens has loss log 50 (perplexity 50)."""
    logits = numpy.zeros((4, 3, 50))
    targets = numpy.zeros((4, 3), dtype=numpy.int64)
    loss, _ = F.softmax_cross_entropy(logits, targets)
    assert math.isclose(float(loss), math.log(50))
    assert math.isclose(math.exp(float(loss)), 50)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    """Logits of 1e4 overflow a naive exp; the max-shift keeps the loss finite and exact."""
    logits = numpy.array([[1e4, 0.0, -1e4]], dtype=numpy.float32)
    loss, dlogits = F.softmax_cross_entropy(logits, numpy.array([1]))
    assert numpy.isfinite(float(loss)) and math.isclose(float(loss), 1e4, rel_tol=1e-6)
    assert numpy.all(numpy.isfinite(dlogits))
    assert dlogits.dtype == numpy.float32


def test_softmax_cross_entropy_gradient(rng):
    """dL/dz = (softmax(z) - onehot(y)) / N, checked against central differences."""
    logits = rng.standard_normal((3, 2, 7))
    targets = rng.integers(0, 7, size=(3, 2))
    _, dlogits = F.softmax_cross_entropy(logits, targets)
    num = numerical_gradient(lambda: F.softmax_cross_entropy(logits, targets)[0], logits)
    assert relative_error(dlogits, num) < TOL
    # each row of the gradient sums to zero: probabilities sum to one, the one-hot too
    assert numpy.allclose(dlogits.sum(axis=-1), 0.0)


def test_sigmoid_does_not_overflow():
    """sigmoid(-1000) is 0 and sigmoid(1000) is 1, without an overflow warning."""
    with numpy.errstate(over="raise"):
        s = F.sigmoid(numpy.array([-1000.0, 0.0, 1000.0]))
    assert s.tolist() == [0.0, 0.5, 1.0]


def test_dropout_keeps_the_expected_value(rng):
    """Inverted dropout scales survivors by 1/(1-p), so the mean of x is unchanged on average."""
    x = numpy.ones((200, 50, 10))
    out, mask = F.dropout_forward(x, 0.3, numpy.random.default_rng(1))
    assert abs(out.mean() - 1.0) < 0.01
    assert set(numpy.unique(out).round(6)) == {0.0, round(1 / 0.7, 6)}
    dx = F.dropout_backward(numpy.ones_like(x), mask)
    assert numpy.array_equal(dx, out)       # the same mask reaches the gradient


def test_locked_dropout_uses_one_mask_for_all_time_steps():
    """Locked dropout drops the same units at every step t of a sequence."""
    x = numpy.ones((6, 4, 8))
    out, mask = F.dropout_forward(x, 0.5, numpy.random.default_rng(2), locked=True)
    assert mask.shape == (1, 4, 8)
    assert all(numpy.array_equal(out[0], out[t]) for t in range(6))


def test_dropout_rejects_p_of_one():
    """p = 1 would drop everything and divide by zero: a ValueError instead."""
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout_forward(numpy.ones(3), 1.0, numpy.random.default_rng(0))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_functions_preserve_dtype(rng, dtype):
    """float32 in, float32 out (training); float64 in, float64 out (gradient checks)."""
    x = rng.standard_normal((3, 2, 4)).astype(dtype)
    W = rng.standard_normal((4, 5)).astype(dtype)
    b = numpy.zeros(5, dtype=dtype)
    y, cache = F.affine_forward(x, W, b)
    assert y.dtype == dtype
    assert all(g.dtype == dtype for g in F.affine_backward(y, cache))
    loss, dz = F.softmax_cross_entropy(y, numpy.zeros((3, 2), dtype=numpy.int64))
    assert dz.dtype == dtype
