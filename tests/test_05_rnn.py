"""Lesson 5 exercises: a vanilla RNN, backpropagation through time, vanishing/exploding gradients."""
import numpy
import pytest

from scratchlstm.gradcheck import check_function
from scratchlstm.nn import functional as F
from scratchlstm.solutions import rnn_gradient_norms


def rnn_inputs(rng, T=5, B=2, D=3, H=4, scale=0.5):
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((B, H))
    Wx = rng.standard_normal((D, H)) * scale
    Wh = rng.standard_normal((H, H)) * scale
    b = rng.standard_normal(H) * scale
    return x, h0, Wx, Wh, b


def test_rnn_step_by_hand(impl):
    """The lesson's worked step: tanh([0.35, 0.3, -0.15]) for the weights written out by hand."""
    x = numpy.array([[1.0, -1.0]])
    h_prev = numpy.array([[0.5, 0.0, -0.5]])
    Wx = numpy.array([[0.1, 0.2, 0.3], [0.0, -0.1, 0.2]])
    h, _ = impl.rnn_step_forward(x, h_prev, Wx, 0.5 * numpy.eye(3), numpy.zeros(3))
    assert numpy.allclose(h, numpy.tanh([[0.35, 0.3, -0.15]]), atol=1e-15)


def test_rnn_pair_passes_the_gradient_check(impl, rng):
    """rnn_forward/rnn_backward: every input's gradient matches central differences (float64)."""
    def forward(x, h0, Wx, Wh, b):
        hs, _, cache = impl.rnn_forward(x, h0, Wx, Wh, b)
        return hs, cache

    result = check_function(forward, impl.rnn_backward, list(rnn_inputs(rng)),
                            names=["x", "h0", "Wx", "Wh", "b"])
    assert result.worst < 1e-7, str(result)


def test_exercise_5_1_one_unit_rnn_gradient_is_a_product(impl, rng):
    """Exercise 5.1: for H = D = 1, dh_T/dh_0 is the product over t of w_h * (1 - h_t^2).

    Each step h_t = tanh(x_t w_x + h_{t-1} w_h + b) has the derivative dh_t/dh_{t-1} =
    tanh'(a_t) w_h = (1 - h_t^2) w_h, and the chain rule multiplies these T numbers. rnn_backward
    with dhs = None (no loss on the intermediate states) and dh_T = 1 returns exactly this product
    as dh0. A wrong backward pass (a missing tanh', a missing step) would give another number.
    """
    T = 12
    x = rng.standard_normal((T, 1, 1))
    h0 = numpy.array([[0.3]])
    Wx, Wh, b = numpy.array([[0.8]]), numpy.array([[1.2]]), numpy.array([0.1])
    hs, _, cache = impl.rnn_forward(x, h0, Wx, Wh, b)
    product = numpy.prod(Wh[0, 0] * (1.0 - hs[:, 0, 0] ** 2))
    _, dh0, _, _, _ = impl.rnn_backward(None, cache, dh_T=numpy.ones((1, 1)))
    assert numpy.isclose(dh0[0, 0], product, rtol=1e-12, atol=0)
    assert abs(product) > 1e-6          # a meaningful number, not an underflowed zero


def test_exercise_5_2_orthogonal_weights_scale_the_gradient_exactly(rng):
    """Exercise 5.2: with W_h = rho Q (Q orthogonal), zero input and h_0 = 0, ||dL/dh_{T-k}|| = rho^k.

    With x = 0, b = 0 and h_0 = 0 every state is exactly 0, so tanh' = 1 and each backward step
    multiplies the gradient by W_h^T = rho Q^T. An orthogonal matrix preserves the length of every
    vector (all its singular values are 1), so each step scales the norm by exactly rho, from the
    first step on. A general matrix with spectral radius rho only does this asymptotically, after
    its other eigen-directions have died out; and its norm can change by any factor between its
    smallest and largest singular values in one step.
    """
    H, D, T = 16, 4, 30
    Q, _ = numpy.linalg.qr(rng.standard_normal((H, H)))
    g = rng.standard_normal((1, H))
    Wx = rng.standard_normal((D, H))
    x = numpy.zeros((T, 1, D))
    h0 = numpy.zeros((1, H))
    k = numpy.arange(T + 1)
    for rho in (0.5, 1.0, 1.5):
        norms = rnn_gradient_norms(x, h0, Wx, rho * Q, numpy.zeros(H), g)
        assert numpy.allclose(norms, numpy.linalg.norm(g) * rho ** k, rtol=1e-10)
    # A Gaussian matrix of the same spectral radius does not follow rho^k step by step.
    A = rng.standard_normal((H, H))
    A /= numpy.abs(numpy.linalg.eigvals(A)).max()
    norms = rnn_gradient_norms(x, h0, Wx, A, numpy.zeros(H), g)
    assert not numpy.allclose(norms, numpy.linalg.norm(g), rtol=1e-2)


def test_exercise_5_3_gradients_from_several_losses_add_up(impl, rng):
    """Exercise 5.3: dL/dh_0 for L = sum_t l_t equals the sum of dl_t/dh_0 taken one loss at a time.

    Backpropagation is linear in the upstream gradient: every operation of the backward pass
    (elementwise products with fixed tanh', products with fixed matrices, sums) is linear in dh.
    So feeding dhs = sum of one-step-only arrays gives the sum of the separate results. This is
    why a language model can put a loss at every position and run one backward pass.
    """
    x, h0, Wx, Wh, b = rnn_inputs(rng, T=6)
    hs, _, cache = impl.rnn_forward(x, h0, Wx, Wh, b)
    dhs = rng.standard_normal(hs.shape)
    total = impl.rnn_backward(dhs, cache)[1]
    separate = numpy.zeros_like(h0)
    for t in range(x.shape[0]):
        only_t = numpy.zeros_like(dhs)
        only_t[t] = dhs[t]
        separate += impl.rnn_backward(only_t, cache)[1]
    assert numpy.allclose(total, separate, rtol=1e-12, atol=1e-14)
    assert numpy.linalg.norm(total) > 1e-3


def test_exercise_5_4_saturation_makes_even_large_weights_vanish(impl, rng):
    """Exercise 5.4: with saturated tanh units even rho = 1.5 loses 1000x of the gradient in 10 steps.

    Large inputs drive |a_t| far from 0, so h_t is close to +-1 and the factor 1 - h_t^2 in every
    Jacobian D_t W_h^T is tiny. The bound ||delta_{t-1}|| <= ||delta_t|| max(1 - h_t^2) sigma_max(W_h)
    then shrinks the gradient faster than the spectral radius can grow it. The same weights with
    zero input (no saturation) make the gradient grow instead: the contrast is the point.
    """
    H, D, T = 32, 8, 20
    A = rng.standard_normal((H, H))
    A /= numpy.abs(numpy.linalg.eigvals(A)).max()
    Wx = rng.standard_normal((D, H)) / numpy.sqrt(D)
    g = rng.standard_normal((1, H))
    x = 10.0 * rng.standard_normal((T, 1, D))
    h0, b = numpy.zeros((1, H)), numpy.zeros(H)
    hs, _, _ = impl.rnn_forward(x, h0, Wx, 1.5 * A, b)
    assert numpy.mean(1.0 - hs ** 2) < 0.2                 # saturated: tanh' is small
    saturated = rnn_gradient_norms(x, h0, Wx, 1.5 * A, b, g)
    assert saturated[10] < 1e-3 * saturated[0]
    linear = rnn_gradient_norms(numpy.zeros_like(x), h0, Wx, 1.5 * A, b, g)
    assert linear[10] > saturated[0]


# ----------------------------------------------------------------------------------------------
# The workbook ladder (rnn.py): values, gradients or cache, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('rnn_step_forward', 'rnn_step_backward', 'rnn_forward', 'rnn_backward'))
def test_ladder(ladder, name):
    ladder(name)
