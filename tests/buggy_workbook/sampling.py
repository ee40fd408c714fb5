"""Workbook: Sampling the next token: temperature, top-k, top-p (lesson 10).

Write temperature_softmax, top_k_filter, top_p_filter, sample_from.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
import numpy as np


def temperature_softmax(logits, temperature=1.0):
    """Probabilities of the next token at a temperature: :math:`p = \\mathrm{softmax}(z / \\tau)`.

    Parameters
    ----------
    logits : (V,) float array (host)
    temperature : float >= 0. Below 1 the distribution sharpens, above 1 it flattens; 0 means
        greedy: all the mass on the arg-max (the first one, if several tie)

    Returns
    -------
    probs : (V,) float64, sums to 1
    """
    # Compute: probs = softmax(logits / temperature) in float64; temperature 0 means greedy: a one-
    #          hot on the first arg-max.
    # Hint: Divide by the temperature before the softmax, and shift by the maximum.
    raise NotImplementedError("temperature_softmax is not written yet")


def top_k_filter(probs, k):
    """Keep the ``k`` most likely tokens, set the rest to zero, renormalise.

    Tokens tied with the k-th are kept in their order of appearance until k are kept, so exactly
    ``min(k, V)`` entries stay non-zero.

    Parameters
    ----------
    probs : (V,) float, sums to 1
    k : int >= 1

    Returns
    -------
    probs : (V,) float64, sums to 1
    """
    # Compute: Keep the k largest probabilities (ties: in order of appearance; np.argsort(-probs,
    #          kind='stable')[:k]), set the others to 0, divide by the kept sum.
    # Hint: Renormalise: the kept probabilities must sum to 1.
    raise NotImplementedError("top_k_filter is not written yet")


def top_p_filter(probs, p):
    """Nucleus filtering: keep the smallest set of most likely tokens whose mass is at least ``p``.

    Sorted by probability, tokens are kept up to *and including* the one that brings the running
    sum to ``p`` or more; the rest are set to zero and the kept ones renormalised.

    Parameters
    ----------
    probs : (V,) float, sums to 1
    p : float in (0, 1]

    Returns
    -------
    probs : (V,) float64, sums to 1
    """
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    keep = np.zeros(probs.shape, dtype=bool)
    keep[order[cumulative < p]] = True               # BUG: drops the token that crosses p
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum()


def sample_from(probs, rng):
    """Draw an index with probability ``probs[i]`` by inverse CDF: the first i with cdf[i] > u.

    Parameters
    ----------
    probs : (V,) float, sums to 1
    rng : a NumPy Generator; exactly one ``rng.random()`` is drawn, u = that number times cdf[-1]

    Returns
    -------
    int, the sampled token id
    """
    # Compute: cdf = cumsum(probs); u = rng.random() * cdf[-1]; return the first index i with cdf[i]
    #          > u (np.searchsorted(cdf, u, side='right')), as an int, at most V - 1.
    # Hint: Draw exactly one rng.random(): then a seed gives the library's samples.
    raise NotImplementedError("sample_from is not written yet")
