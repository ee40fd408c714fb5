"""Lesson 4 exercises: embedding, linear layer and softmax cross-entropy, checked by hand and by
finite differences (float64)."""
import math

import numpy
import pytest

from scratchlstm.gradcheck import check_function, numerical_gradient, relative_error
from scratchlstm.nn import functional as F

TOL = 1e-7


def test_affine_on_a_hand_worked_example(impl):
    """y = xW + b for x = [1, 2], W = [[1, 0, 2], [0, 1, 3]], b = [0.5, 0, -1] is [1.5, 2, 7]."""
    x = numpy.array([[1.0, 2.0]])
    W = numpy.array([[1.0, 0.0, 2.0], [0.0, 1.0, 3.0]])
    b = numpy.array([0.5, 0.0, -1.0])
    y, _ = impl.affine_forward(x, W, b)
    assert y.tolist() == [[1.5, 2.0, 7.0]]


@pytest.mark.parametrize("shape", [(5, 4), (3, 2, 4)])
def test_affine_gradients(impl, rng, shape):
    """Do dx, dW, db of the affine layer match central differences for (N, D) and (T, B, D)?"""
    x = rng.standard_normal(shape)
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)
    result = check_function(impl.affine_forward, impl.affine_backward, [x, W, b], names=["x", "W", "b"])
    assert result.worst < TOL, str(result)


def test_affine_rejects_mismatched_shapes(rng):
    """x with 5 features cannot meet W with 4 rows: the error names both shapes."""
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        F.affine_forward(rng.standard_normal((2, 5)), rng.standard_normal((4, 3)), numpy.zeros(3))


def test_embedding_gradient_with_repeated_ids(impl, rng):
    """Token 2 appears three times: its gradient row is the sum of the three upstream rows."""
    W = rng.standard_normal((5, 3))
    ids = numpy.array([[2, 0], [2, 2]])
    out, cache = impl.embedding_forward(ids, W)
    assert numpy.array_equal(out[1, 0], W[2])
    dout = rng.standard_normal((2, 2, 3))
    dW = impl.embedding_backward(dout, cache)
    assert numpy.allclose(dW[2], dout[0, 0] + dout[1, 0] + dout[1, 1])
    assert numpy.allclose(dW[0], dout[0, 1])
    assert numpy.all(dW[[1, 3, 4]] == 0)
    result = check_function(impl.embedding_forward, lambda d, c: (None, impl.embedding_backward(d, c)),
                            [ids, W], check=[1])
    assert result.worst < TOL


def test_uniform_logits_give_log_vocab_loss(impl):
    """A model that spreads probability evenly over V = 50 tokens has loss log 50 (perplexity 50)."""
    logits = numpy.zeros((4, 3, 50))
    targets = numpy.zeros((4, 3), dtype=numpy.int64)
    loss, _ = impl.softmax_cross_entropy(logits, targets)
    assert math.isclose(float(loss), math.log(50))
    assert math.isclose(math.exp(float(loss)), 50)


def test_softmax_cross_entropy_is_stable_for_huge_logits(impl):
    """Logits of 1e4 overflow a naive exp; the max-shift keeps the loss finite and exact."""
    logits = numpy.array([[1e4, 0.0, -1e4]], dtype=numpy.float32)
    loss, dlogits = impl.softmax_cross_entropy(logits, numpy.array([1]))
    assert numpy.isfinite(float(loss)) and math.isclose(float(loss), 1e4, rel_tol=1e-6)
    assert numpy.all(numpy.isfinite(dlogits))
    assert dlogits.dtype == numpy.float32


def test_softmax_cross_entropy_gradient(impl, rng):
    """dL/dz = (softmax(z) - onehot(y)) / N, checked against central differences."""
    logits = rng.standard_normal((3, 2, 7))
    targets = rng.integers(0, 7, size=(3, 2))
    _, dlogits = impl.softmax_cross_entropy(logits, targets)
    num = numerical_gradient(lambda: impl.softmax_cross_entropy(logits, targets)[0], logits)
    assert relative_error(dlogits, num) < TOL
    # each row of the gradient sums to zero: probabilities sum to one, the one-hot too
    assert numpy.allclose(dlogits.sum(axis=-1), 0.0)


def test_sigmoid_does_not_overflow():
    """sigmoid(-1000) is 0 and sigmoid(1000) is 1, without an overflow warning."""
    with numpy.errstate(over="raise"):
        s = F.sigmoid(numpy.array([-1000.0, 0.0, 1000.0]))
    assert s.tolist() == [0.0, 0.5, 1.0]


def test_dropout_keeps_the_expected_value(impl, rng):
    """Inverted dropout scales survivors by 1/(1-p), so the mean of x is unchanged on average."""
    x = numpy.ones((200, 50, 10))
    out, mask = impl.dropout_forward(x, 0.3, numpy.random.default_rng(1))
    assert abs(out.mean() - 1.0) < 0.01
    assert set(numpy.unique(out).round(6)) == {0.0, round(1 / 0.7, 6)}
    dx = impl.dropout_backward(numpy.ones_like(x), mask)
    assert numpy.array_equal(dx, out)       # the same mask reaches the gradient


def test_locked_dropout_uses_one_mask_for_all_time_steps(impl):
    """Locked dropout drops the same units at every step t of a sequence."""
    x = numpy.ones((6, 4, 8))
    out, mask = impl.dropout_forward(x, 0.5, numpy.random.default_rng(2), locked=True)
    assert mask.shape == (1, 4, 8)
    assert all(numpy.array_equal(out[0], out[t]) for t in range(6))


def test_dropout_rejects_p_of_one():
    """p = 1 would drop everything and divide by zero: a ValueError instead."""
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout_forward(numpy.ones(3), 1.0, numpy.random.default_rng(0))


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_functions_preserve_dtype(impl, rng, dtype):
    """float32 in, float32 out (training); float64 in, float64 out (gradient checks)."""
    x = rng.standard_normal((3, 2, 4)).astype(dtype)
    W = rng.standard_normal((4, 5)).astype(dtype)
    b = numpy.zeros(5, dtype=dtype)
    y, cache = impl.affine_forward(x, W, b)
    assert y.dtype == dtype
    assert all(g.dtype == dtype for g in impl.affine_backward(y, cache))
    loss, dz = impl.softmax_cross_entropy(y, numpy.zeros((3, 2), dtype=numpy.int64))
    assert dz.dtype == dtype


# ------------------------------------------------------------------------------------------------
# Worked solutions of the exercises at the end of lessons/04_embedding_linear_softmax.ipynb
# ------------------------------------------------------------------------------------------------
def test_exercise_4_1_embedding_is_a_one_hot_product(impl, rng):
    """Exercise 4.1: for ids of shape (T, B) with repeats, ``embedding_forward`` equals
    ``onehot(ids) @ E`` and ``embedding_backward`` equals ``onehot(ids).T @ dout`` (flattened).

    Why: the one-hot row of id v has a single 1 at column v, so its product with E is row v of
    E. The forward map is linear in E with matrix O = onehot(ids), so its gradient with respect
    to E is O^T dout: row v collects the upstream rows of every position holding id v, which is
    what the scatter-add computes.
    """
    V, D = 7, 4
    E = rng.standard_normal((V, D))
    ids = numpy.array([[3, 1], [3, 6], [0, 3]])           # (T, B) = (3, 2); id 3 three times
    O = numpy.eye(V)[ids.reshape(-1)]                      # (T*B, V)
    out, cache = impl.embedding_forward(ids, E)
    assert out.shape == (3, 2, D)
    assert numpy.allclose(out.reshape(-1, D), O @ E)
    dout = rng.standard_normal(out.shape)
    dE = impl.embedding_backward(dout, cache)
    assert numpy.allclose(dE, O.T @ dout.reshape(-1, D))
    assert numpy.allclose(dE[3], dout[0, 0] + dout[1, 0] + dout[2, 1])


def test_exercise_4_2_affine_backward_with_einsum(impl, rng):
    """Exercise 4.2: for y[t,b,m] = sum_d x[t,b,d] W[d,m] + b[m], the gradients are
    dW[d,m] = sum_{t,b} x[t,b,d] dy[t,b,m], dx[t,b,d] = sum_m dy[t,b,m] W[d,m] and
    db[m] = sum_{t,b} dy[t,b,m]; written with einsum they match ``affine_backward``.

    Why: each W[d,m] multiplies x[t,b,d] in output y[t,b,m], for every (t, b), so the chain rule
    sums dy[t,b,m] x[t,b,d] over all positions; the same reasoning per x[t,b,d] runs over m.
    b[m] is broadcast to every position, so its gradient sums over both leading axes.
    """
    x = rng.standard_normal((4, 3, 5))
    W = rng.standard_normal((5, 2))
    b = rng.standard_normal(2)
    y, cache = impl.affine_forward(x, W, b)
    assert numpy.allclose(y, numpy.einsum("tbd,dm->tbm", x, W) + b)
    dy = rng.standard_normal(y.shape)
    dx, dW, db = impl.affine_backward(dy, cache)
    assert numpy.allclose(dW, numpy.einsum("tbd,tbm->dm", x, dy))
    assert numpy.allclose(dx, numpy.einsum("tbm,dm->tbd", dy, W))
    assert numpy.allclose(db, numpy.einsum("tbm->m", dy))


def test_exercise_4_3_softmax_cross_entropy_shift_and_gradient(impl, rng):
    """Exercise 4.3: adding a constant per row to the logits changes neither the loss nor the
    gradient; the gradient is (softmax(z) - onehot(y)) / N and its rows sum to zero.

    Why: softmax(z - c) = softmax(z) because e^{-c} cancels between numerator and denominator,
    and both loss and gradient depend on z only through softmax(z). Differentiating
    -z_y + log sum_j e^{z_j} gives p_k - [k = y]; averaging over N rows divides by N. Each row of
    p sums to 1 and each one-hot row sums to 1, so their difference sums to 0.
    """
    N, V = 6, 9
    z = rng.standard_normal((N, V))
    y = rng.integers(0, V, size=N)
    loss, dz = impl.softmax_cross_entropy(z, y)
    shift = rng.uniform(-500, 500, size=(N, 1))
    loss_shifted, dz_shifted = impl.softmax_cross_entropy(z + shift, y)
    assert math.isclose(float(loss), float(loss_shifted), rel_tol=1e-12)
    assert numpy.allclose(dz, dz_shifted, atol=1e-15)
    p = numpy.exp(z) / numpy.exp(z).sum(axis=1, keepdims=True)
    assert numpy.allclose(dz, (p - numpy.eye(V)[y]) / N)
    assert numpy.allclose(dz.sum(axis=1), 0.0)
    assert math.isclose(float(loss), -numpy.log(p[numpy.arange(N), y]).mean(), rel_tol=1e-12)


def test_exercise_4_4_float64_passes_float32_fails_and_the_best_step(impl, rng):
    """Exercise 4.4: with h = 1e-5 the affine gradient check passes in float64 (worst < 1e-8) and
    "fails" in float32 (worst > 1e-4); for f(x) = sum(x^3) in float64 the best h among
    1e-8 ... 1e-2 is within a factor 10 of eps^(1/3) ~ 6e-6.

    Why: the central difference has truncation error ~h^2 and round-off error ~eps |f| / h.
    In float32 eps ~ 6e-8, so eps / h ~ 6e-3 at h = 1e-5: the quotient is noise at the 1e-3
    level. The sum C1 h^2 + C2 eps / h is smallest near h ~ eps^(1/3) (1e-16^(1/3) ~ 5e-6).
    """
    x = rng.standard_normal((3, 2, 4))
    W = rng.standard_normal((4, 5))
    b = rng.standard_normal(5)
    ok = check_function(impl.affine_forward, impl.affine_backward, [x, W, b])
    assert ok.worst < 1e-8, str(ok)
    bad = check_function(impl.affine_forward, impl.affine_backward,
                         [a.astype(numpy.float32) for a in (x, W, b)])
    assert bad.worst > 1e-4, str(bad)

    v = rng.standard_normal(20)
    steps = [10.0 ** -k for k in range(8, 1, -1)]
    errors = [relative_error(numerical_gradient(lambda: (v ** 3).sum(), v, h=h), 3 * v ** 2)
              for h in steps]
    best = steps[int(numpy.argmin(errors))]
    eps_third = numpy.finfo(numpy.float64).eps ** (1 / 3)
    assert eps_third / 10 <= best <= eps_third * 10
    assert min(errors) < 1e-9


def test_exercise_4_5_a_wrong_bias_gradient_is_caught(impl):
    """Exercise 4.5: if the backward pass returns the *mean* of dy over N rows as db instead of the
    sum, check_function reports a relative error of (N - 1) / (N + 1) for b (2/3 for N = 5),
    while x and W still pass.

    Why: with s the correct gradient, the buggy one is s / N, so
    ||s - s/N|| / (||s|| + ||s/N||) = (1 - 1/N) / (1 + 1/N) = (N - 1) / (N + 1), whatever s is.
    A check that can report this number distinguishes the bug from round-off (1e-10).
    """
    rng = numpy.random.default_rng(3)
    N = 5
    x = rng.standard_normal((N, 4))
    W = rng.standard_normal((4, 3))
    b = rng.standard_normal(3)

    def buggy_backward(dy, cache):
        dx, dW, db = impl.affine_backward(dy, cache)
        return dx, dW, dy.mean(axis=0)

    result = check_function(impl.affine_forward, buggy_backward, [x, W, b], names=["x", "W", "b"])
    assert result.errors["x"] < TOL and result.errors["W"] < TOL
    assert math.isclose(result.errors["b"], (N - 1) / (N + 1), rel_tol=1e-6)


# ----------------------------------------------------------------------------------------------
# The workbook ladder (layers.py): values, gradients or cache, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('affine_forward', 'affine_backward', 'embedding_forward', 'embedding_backward', 'softmax_cross_entropy'))
def test_ladder(ladder, name):
    ladder(name)
