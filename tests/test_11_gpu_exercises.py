"""Lesson 11 exercises: device-agnostic code, the CuPy pitfalls, and honest timing.

Every exercise has a CPU solution that runs anywhere; the checks that need CuPy and a CUDA GPU are
separate tests marked ``gpu`` (skipped without one, see conftest.py).
"""
import statistics

import numpy
import pytest

from scratchlstm import LSTMLanguageModel, get_array_module, relative_error, softmax_cross_entropy, to_host
from scratchlstm.solutions import logsumexp, median_time
from scratchlstm.nn.functional import embedding_backward, embedding_forward, log_softmax


# -- Exercise 11.1 ----------------------------------------------------------------------------
def test_exercise_11_1_device_agnostic_logsumexp():
    """Exercise 11.1: write a device-agnostic, stable logsumexp and check x - logsumexp(x) against
    log_softmax.

    Subtracting the row maximum m leaves the value unchanged (log sum e^x = m + log sum e^(x-m))
    and keeps every exponent <= 0, so nothing overflows even for logits of 1000; asking
    get_array_module for xp makes the same function run on CuPy arrays.
    """
    x = numpy.random.default_rng(0).normal(size=(4, 7)) * 5
    assert numpy.allclose(x - logsumexp(x), log_softmax(x), atol=1e-12)
    big = numpy.array([[1000.0, 1000.0]])
    assert numpy.allclose(logsumexp(big), 1000 + numpy.log(2))     # exp(1000) would overflow
    assert numpy.isfinite(logsumexp(big.astype(numpy.float32))).all()


@pytest.mark.gpu
def test_exercise_11_1_logsumexp_on_the_gpu():
    """Exercise 11.1 (GPU part): the same function on a CuPy array stays on the GPU and agrees
    with the CPU result to float64 round-off."""
    import cupy

    x = numpy.random.default_rng(0).normal(size=(4, 7)) * 5
    out = logsumexp(cupy.asarray(x))
    assert isinstance(out, cupy.ndarray)
    assert numpy.allclose(to_host(out), logsumexp(x), atol=1e-12)


# -- Exercise 11.2 ----------------------------------------------------------------------------
def test_exercise_11_2_repeated_indices_need_scatter_add():
    """Exercise 11.2: for ids [3, 1, 3, 3] and an upstream gradient of ones, compare
    dW[ids] += dout with the scatter-add numpy.add.at.

    Buffered indexing computes dW[ids] + dout first and then assigns row by row, so a repeated
    row keeps one contribution: row 3 gets 1 instead of 3. Row 1 occurs once and is right either
    way. The correct gradient counts occurrences: summed over its two columns it is 2 * bincount.
    """
    ids = numpy.array([3, 1, 3, 3])
    dout = numpy.ones((4, 2))
    naive = numpy.zeros((5, 2))
    naive[ids] += dout
    right = numpy.zeros((5, 2))
    numpy.add.at(right, ids, dout)
    differs = numpy.flatnonzero((naive != right).any(axis=1))
    assert differs.tolist() == [3]
    assert (right[3] - naive[3]).tolist() == [2.0, 2.0]
    assert numpy.array_equal(right.sum(axis=1), 2 * numpy.bincount(ids, minlength=5))
    _, cache = embedding_forward(ids, numpy.zeros((5, 2)))
    assert numpy.array_equal(embedding_backward(dout, cache), right)


# -- Exercise 11.3 ----------------------------------------------------------------------------
def test_exercise_11_3_validate_ids_on_the_host():
    """Exercise 11.3: show that embedding_forward with id -1 silently returns the last row, while
    the model refuses -1 and V with a ValueError naming the id.

    NumPy reads a negative index from the end (and CuPy wraps every out-of-range index), so a
    bad id is only caught by an explicit check, which the model makes on the host before the
    lookup.
    """
    W = numpy.arange(12.0).reshape(4, 3)
    out, _ = embedding_forward(numpy.array([[-1]]), W)
    assert numpy.array_equal(out[0, 0], W[3])
    model = LSTMLanguageModel(4, 3, 5, seed=0)
    for bad in (-1, 4):
        with pytest.raises(ValueError, match=f"token id {bad}"):
            model(numpy.array([[0], [bad]]))


# -- Exercise 11.4 ----------------------------------------------------------------------------
class FakeClock:
    """A clock that only moves when the timed function says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_exercise_11_4_warm_up_and_median():
    """Exercise 11.4: write median_time(fn, warmup, repeats, clock) and test it with a fake clock:
    the first call takes 100 ms (compilation), the others 1 ms, one of them interrupted for 50 ms.

    The warm-up absorbs the 100 ms call; of the five timed calls (1, 1, 50, 1, 1 ms) the median
    is 1 ms, while the mean (10.8 ms) would be dragged up by the single interruption. Timing
    without warm-up would even make the median depend on how many repeats we chose.
    """
    clock = FakeClock()
    durations = iter([0.100, 0.001, 0.001, 0.001, 0.050, 0.001, 0.001])

    def fn():
        clock.now += next(durations)

    assert median_time(fn, warmup=2, repeats=5, clock=clock) == pytest.approx(0.001)
    timed = [0.001, 0.001, 0.050, 0.001, 0.001]
    assert statistics.mean(timed) == pytest.approx(0.0108)


# -- Exercise 11.5 ----------------------------------------------------------------------------
@pytest.mark.gpu
def test_exercise_11_5_same_model_on_both_devices():
    """Exercise 11.5 (GPU): the same model with seed 0 on both devices: identical initial weights,
    logits within 1e-5 and gradients within 1e-4 (relative).

    The weights are drawn by a host NumPy generator and copied, so they are equal bit for bit;
    everything computed from them differs only by float32 round-off from a different order of
    summation in cuBLAS, which is far below these tolerances.
    """
    cpu = LSTMLanguageModel(30, 16, 32, 2, seed=0)
    gpu = LSTMLanguageModel(30, 16, 32, 2, seed=0, device="cuda")
    for name, value in cpu.state_dict().items():
        assert numpy.array_equal(value, gpu.state_dict()[name]), name
    rng = numpy.random.default_rng(0)
    ids, targets = rng.integers(0, 30, (12, 4)), rng.integers(0, 30, (12, 4))
    grads = {}
    for model in (cpu, gpu):
        logits, _ = model(ids)
        _, dlogits = softmax_cross_entropy(logits, model.to_device_ids(targets))
        model.zero_grad()
        model.backward(dlogits)
        grads[model.device] = ({n: to_host(p.grad) for n, p in model.named_parameters()}, to_host(logits))
    assert relative_error(grads["cpu"][1], grads["cuda"][1]) < 1e-5
    for name, g in grads["cpu"][0].items():
        assert relative_error(g, grads["cuda"][0][name]) < 1e-4, name
