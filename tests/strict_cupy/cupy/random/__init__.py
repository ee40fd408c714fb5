"""``cupy.random``: CuPy's ``Generator`` API with exactly CuPy 14's methods, over NumPy.

CuPy's ``Generator`` has ``random``, ``uniform``, ``integers``, ``standard_normal``,
``standard_exponential``, ``exponential``, ``gamma``, ``standard_gamma``, ``beta``, ``binomial``,
``poisson``, ``geometric``, ``hypergeometric``, ``logseries``, ``power``, ``chisquare``, ``f`` and
``dirichlet``. It has no ``choice``, ``permutation``, ``shuffle``, ``permuted``, ``normal``,
``bytes`` (NumPy's Generator has them all): calling one raises ``AttributeError`` here as there.
The streams differ from CuPy's (this draws with NumPy's PCG64): compare statistics, never samples.

Creating a bit generator initialises cuRAND state on a real GPU (a memset and an init kernel over
every state); each creation is counted as ``generators``.
"""
from __future__ import annotations

import numpy

from .._array import wrap
from .._counters import recorder

#: NumPy Generator methods that CuPy's Generator does not have (CuPy 14).
MISSING_IN_CUPY = ("choice", "permutation", "shuffle", "permuted", "normal", "bytes", "lognormal",
                   "laplace", "logistic", "gumbel", "multinomial", "multivariate_normal",
                   "negative_binomial", "pareto", "rayleigh", "standard_cauchy", "standard_t",
                   "triangular", "vonmises", "wald", "weibull", "zipf", "spawn")


class BitGenerator:
    """A counted bit generator (XORWOW by default in CuPy)."""

    algorithm = "XORWOW"

    def __init__(self, seed=None):
        recorder.generator()
        recorder.launch(f"init_curand[{self.algorithm}]")
        # Not NumPy's stream for the same seed (CuPy's is not either): code must not rely on it.
        entropy = None if seed is None else [0xC0FFEE, *numpy.atleast_1d(numpy.asarray(seed)).tolist()]
        self._numpy = numpy.random.default_rng(entropy)


class XORWOW(BitGenerator):
    algorithm = "XORWOW"


class MRG32k3a(BitGenerator):
    algorithm = "MRG32k3a"


class Philox4x3210(BitGenerator):
    algorithm = "Philox4x3210"


class Generator:
    """CuPy's ``Generator``: one kernel launch per draw, device arrays out."""

    def __init__(self, bit_generator: BitGenerator):
        if not isinstance(bit_generator, BitGenerator):
            raise TypeError(f"Generator needs a cupy.random.BitGenerator, got {type(bit_generator)}")
        self.bit_generator = bit_generator
        self._rng = bit_generator._numpy

    def __getattr__(self, name):
        if name in MISSING_IN_CUPY:
            raise AttributeError(
                f"'Generator' object has no attribute '{name}': CuPy's Generator has no {name}() "
                "(NumPy's has). Draw with the methods CuPy has (random, integers, "
                "standard_normal, ...) or on the host with a NumPy generator.")
        raise AttributeError(f"'Generator' object has no attribute '{name}'")

    def _draw(self, name, *args, **kwargs):
        recorder.launch(f"random.{name}")
        return wrap(getattr(self._rng, name)(*args, **kwargs))

    def random(self, size=None, dtype=numpy.float64, out=None):
        if numpy.dtype(dtype) not in (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)):
            raise TypeError(f"Unsupported dtype {numpy.dtype(dtype).name} for random")
        result = self._draw("random", size, dtype=dtype)
        if out is not None:
            out[...] = result
            return out
        return result

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        return self._draw("uniform", low, high, size).astype(dtype, copy=False)

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        return self._draw("integers", low, high, size, dtype=dtype, endpoint=endpoint)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        return self._draw("standard_normal", size, dtype=dtype)

    def standard_exponential(self, size=None, dtype=numpy.float64, method="inv", out=None):
        return self._draw("standard_exponential", size, dtype=dtype)

    def exponential(self, scale=1.0, size=None):
        return self._draw("exponential", scale, size)

    def gamma(self, shape, scale=1.0, size=None):
        return self._draw("gamma", shape, scale, size)

    def standard_gamma(self, shape, size=None, dtype=numpy.float64, out=None):
        return self._draw("standard_gamma", shape, size, dtype=dtype)

    def beta(self, a, b, size=None, dtype=numpy.float64):
        return self._draw("beta", a, b, size).astype(dtype, copy=False)

    def binomial(self, n, p, size=None):
        return self._draw("binomial", n, p, size)

    def poisson(self, lam=1.0, size=None):
        return self._draw("poisson", lam, size)

    def geometric(self, p, size=None):
        return self._draw("geometric", p, size)

    def hypergeometric(self, ngood, nbad, nsample, size=None):
        return self._draw("hypergeometric", ngood, nbad, nsample, size)

    def logseries(self, p, size=None):
        return self._draw("logseries", p, size)

    def power(self, a, size=None):
        return self._draw("power", a, size)

    def chisquare(self, df, size=None):
        return self._draw("chisquare", df, size)

    def f(self, dfnum, dfden, size=None):
        return self._draw("f", dfnum, dfden, size)

    def dirichlet(self, alpha, size=None):
        return self._draw("dirichlet", alpha, size)


def default_rng(seed=None) -> Generator:
    """A new Generator on a new XORWOW bit generator (counted), or ``seed`` itself if it is one."""
    if isinstance(seed, Generator):
        return seed
    if isinstance(seed, BitGenerator):
        return Generator(seed)
    return Generator(XORWOW(seed))


def __getattr__(name):
    raise AttributeError(f"cupy.random.{name} is not provided by the strict stand-in (only the "
                         "Generator API: default_rng, Generator, XORWOW, MRG32k3a, Philox4x3210)")
