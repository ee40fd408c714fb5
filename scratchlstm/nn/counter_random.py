r"""Random numbers as a pure function of a counter: dropout masks without generator state.

A dropout layer needs fresh random numbers at every training step, and a resumed run needs the
*same* numbers at the same step. Keeping a random generator per layer and saving its state does
not work on a GPU (CuPy's generator state is cuRAND memory on the device), and making a new
generator every step is expensive there: each one initialises cuRAND state (a memset of about
13 MB and an init kernel over ~270k threads). So :class:`CounterRandom` keeps no state at all
beyond three integers, and computes every number from them:

.. math::  u_j = \mathrm{mix}\big(\mathrm{mix}(j \oplus k_1) \oplus k_2\big) \,/\, 2^{32}

for element :math:`j` of the requested array, where the two 32-bit keys :math:`k_1, k_2` are
hashed on the host from ``(seed, step, draw)``: the layer's seed, the training step, and how many
arrays were drawn since the step began. ``mix`` is MurmurHash3's 32-bit finaliser, a bijection of
32-bit integers in which every input bit flips each output bit with probability about 1/2, so
neighbouring counters give unrelated numbers. The same three integers give the same numbers on
any device, NumPy and CuPy alike (integer arithmetic is exact), and no generator is ever made.

This is a hash, not a cryptographic generator; for dropout masks (a few million Bernoulli draws a
step) its statistical quality is ample, and the tests check the keep rate, uniformity and the
independence of neighbouring elements, steps and layers.
"""
from __future__ import annotations

from ..backend import np

_MASK64 = (1 << 64) - 1


def _splitmix64(x: int) -> int:
    """One step of SplitMix64 (Steele, Lea & Flood 2014): a well-mixed 64-bit hash of ``x``."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def draw_keys(seed: int, step: int, draw: int) -> tuple[int, int]:
    """The two 32-bit keys of one draw, hashed from ``(seed, step, draw)`` on the host."""
    key = _splitmix64(_splitmix64(_splitmix64(seed & _MASK64) ^ (step & _MASK64)) ^ (draw & _MASK64))
    return key & 0xFFFFFFFF, key >> 32


def _mix32(h, tmp, xp) -> None:
    """MurmurHash3's finaliser applied in place to ``h`` (uint32), ``tmp`` a work array like it."""
    for shift, multiplier in ((16, 0x85EBCA6B), (13, 0xC2B2AE35), (16, None)):
        xp.right_shift(h, np.uint32(shift), out=tmp)
        xp.bitwise_xor(h, tmp, out=h)
        if multiplier is not None:
            xp.multiply(h, np.uint32(multiplier), out=h)   # wraps modulo 2**32, as intended


class CounterRandom:
    """A stand-in for a random Generator whose numbers depend only on ``(seed, step, draw)``.

    Parameters
    ----------
    seed : int, the stream (one per dropout layer)
    step : int, the position in the stream (the training step); ``draw`` counts the arrays drawn
        since :meth:`restart` and is part of the key, so two draws in one step differ

    Attributes
    ----------
    xp : the array module to draw on (``numpy`` or ``cupy``); the owner sets it to the device of
        its input before drawing
    """

    def __init__(self, seed: int = 0, step: int = 0):
        self.xp = np
        self._work = None      # (xp, n, counter 0..n-1, hash buffer, scratch): reused every draw
        self.restart(seed, step)

    def restart(self, seed: int, step: int = 0) -> None:
        """Jump to ``(seed, step)``: the draws that follow are the ones any run makes there."""
        self.seed, self.step, self.draw = int(seed), int(step), 0

    def random(self, size=None, dtype=np.float64):
        """Uniform numbers in [0, 1), like ``Generator.random(size, dtype)``.

        Parameters
        ----------
        size : int, tuple of ints or None (a 0-d array)
        dtype : float32 (24 random bits each, every value a multiple of 2**-24) or float64 (32 bits)

        Returns
        -------
        array of shape ``size`` on :attr:`xp`'s device
        """
        xp = self.xp
        shape = () if size is None else (tuple(size) if isinstance(size, (tuple, list)) else (int(size),))
        n = int(np.prod(shape, dtype=np.int64))
        if n >= 1 << 32:
            raise ValueError(f"CounterRandom draws at most 2**32 numbers at a time, asked for {n}")
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"dtype must be float32 or float64, got {dtype}")
        k1, k2 = draw_keys(self.seed, self.step, self.draw)
        self.draw += 1
        index, h, tmp = self._buffers(xp, n)
        xp.bitwise_xor(index, np.uint32(k1), out=h)
        _mix32(h, tmp, xp)
        xp.bitwise_xor(h, np.uint32(k2), out=h)
        _mix32(h, tmp, xp)
        if dtype == np.float32:
            # The top 24 bits: exactly representable in float32, so u < 1 always holds.
            xp.right_shift(h, np.uint32(8), out=h)
            u = h.astype(np.float32)
            u *= np.float32(2.0 ** -24)
        else:
            u = h.astype(np.float64)
            u *= 2.0 ** -32
        return u.reshape(shape)

    def _buffers(self, xp, n: int):
        """The element counter 0..n-1 and two work arrays, made once per size and device: a
        dropout layer draws the same size every step, and fresh memory costs page faults (CPU)
        or allocations and an extra launch (GPU) every time."""
        work = self._work
        if work is None or work[0] is not xp or work[1] != n:
            index = xp.arange(n, dtype=np.uint32)
            work = self._work = (xp, n, index, xp.empty_like(index), xp.empty_like(index))
        return work[2:]
