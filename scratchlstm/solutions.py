"""Worked solutions of lesson exercises that are not part of the library proper.

The lessons end with exercises; their tests (``tests/test_NN_*.py``) check these solutions, so
that a student can compare her answer with a worked one. Solutions that *are* library functions
(an LSTM backward pass, BPE's merges, Adam) live in the library itself; this module holds the
rest: small functions an exercise asks for, written as the lesson would write them.
"""
from __future__ import annotations

import statistics
import time

from .backend import get_array_module, np, synchronize
from .nn import functional as F


# -- lesson 1 ------------------------------------------------------------------------------------
def normalize_rows(x):
    """Exercise 1.1: divide each row of ``x (N, D)`` by its Euclidean length, on x's device and in
    x's dtype, without naming NumPy or CuPy."""
    xp = get_array_module(x)
    return x / xp.sqrt((x * x).sum(axis=1, keepdims=True))


# -- lesson 3 ------------------------------------------------------------------------------------
def bigram_counts(ids, V: int):
    """Exercise 3.2: ``N[a, b]`` = how often id b follows id a in ``ids (N,)``, a ``(V, V)``
    array of counts (a scatter-add over the adjacent pairs)."""
    N = np.zeros((V, V))
    np.add.at(N, (ids[:-1], ids[1:]), 1)
    return N


def bigram_cross_entropy(P, ids) -> float:
    """Exercise 3.2: mean negative log-likelihood, in nats, of ``ids[1:]`` given ``ids[:-1]``
    under the bigram model ``P (V, V)`` (rows sum to 1); infinite when a pair has probability 0."""
    with np.errstate(divide="ignore"):
        return float(-np.log(P[ids[:-1], ids[1:]]).mean())


# -- lesson 5 ------------------------------------------------------------------------------------
def rnn_gradient_norms(x, h0, Wx, Wh, b, g):
    """Exercise 5.2: ``||dL/dh_{T-k}||`` for k = 0..T when ``L = sum(g * h_T)``, walking back
    through a vanilla RNN with :func:`~scratchlstm.nn.functional.rnn_step_backward`.

    Returns
    -------
    (T + 1,) array: the norm at h_T, h_{T-1}, ..., h_0
    """
    _, _, cache = F.rnn_forward(x, h0, Wx, Wh, b)
    dh = g
    norms = [np.linalg.norm(dh)]
    for t in reversed(range(x.shape[0])):
        _, dh, _, _, _ = F.rnn_step_backward(dh, cache.steps[t])
        norms.append(np.linalg.norm(dh))
    return np.array(norms)


# -- lesson 11 -----------------------------------------------------------------------------------
def logsumexp(x, axis: int = -1):
    """Exercise 11.1: ``log(sum(exp(x)))`` along ``axis``, on the device of ``x``, without
    overflow: ``m + log(sum(exp(x - m)))`` with ``m`` the maximum."""
    xp = get_array_module(x)
    m = x.max(axis=axis, keepdims=True)
    return m + xp.log(xp.exp(x - m).sum(axis=axis, keepdims=True))


def median_time(fn, warmup: int = 2, repeats: int = 5, clock=None, device: str = "cpu") -> float:
    """Exercise 11.4: median seconds per call of ``fn`` after ``warmup`` untimed calls,
    synchronising the device around every measurement (GPU work is asynchronous; a no-op on the
    CPU)."""
    clock = clock or time.perf_counter
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = clock()
        fn()
        synchronize(device)
        times.append(clock() - start)
    return statistics.median(times)
