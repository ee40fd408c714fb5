"""Workbook: The building blocks: affine, embedding, dropout, softmax cross-entropy (lesson 4 (dropout: lesson 12)).

Write affine_forward, affine_backward, embedding_forward, embedding_backward, dropout_forward, dropout_backward, softmax_cross_entropy.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
import numpy as np

from scratchlstm.nn.functional import AffineCache, EmbeddingCache


def affine_forward(x, W, b):
    """``y = x W + b`` over the last axis.

    Parameters
    ----------
    x : (..., D) float
        Any number of leading axes, e.g. ``(N, D)`` or ``(T, B, D)``.
    W : (D, M) float
    b : (M,) float

    Returns
    -------
    y : (..., M) float
    cache : AffineCache(x, W)
    """
    # Compute: y = x W + b over the last axis. Flatten the leading axes to one, (N, D) with N =
    #          x.size // D, multiply, add b, and restore the leading shape. Return AffineCache(x,
    #          W).
    # Hint: x.reshape(-1, D) turns (T, B, D) into (T*B, D); y.reshape(*x.shape[:-1], M) turns it
    #       back.
    raise NotImplementedError("affine_forward is not written yet")


def affine_backward(dy, cache):
    """Gradients of :func:`affine_forward`.

    Parameters
    ----------
    dy : (..., M) float, upstream gradient
    cache : AffineCache from :func:`affine_forward`

    Returns
    -------
    dx : (..., D) float, ``dy W^T``
    dW : (D, M) float, ``x^T dy`` summed over all leading positions
    db : (M,) float, ``dy`` summed over all leading positions (the bias is added to every row)
    """
    x, W = cache
    dy2 = dy.reshape(-1, W.shape[1])
    dx = (dy2 @ W.T).reshape(x.shape)
    dW = x.reshape(-1, W.shape[0]).T @ dy2
    db = dy.sum(axis=0)          # BUG: sums over the first axis only; (T, B, M) keeps B rows
    return dx, dW, db


def embedding_forward(ids, W):
    """Look up one row of ``W`` per token id.

    Parameters
    ----------
    ids : (...) int array, values in ``[0, V)`` (validate on the host first: out-of-range ids
        wrap around silently on the GPU)
    W : (V, D) float

    Returns
    -------
    out : (..., D) float, ``out[..., :] = W[ids[...]]``
    cache : EmbeddingCache(ids, V)
    """
    # Compute: out[..., :] = W[ids[...]]: one row of W per id. Return EmbeddingCache(ids, V).
    # Hint: NumPy fancy indexing does it in one line.
    raise NotImplementedError("embedding_forward is not written yet")


def embedding_backward(dout, cache):
    """Gradient of :func:`embedding_forward` with respect to ``W``.

    Row ``v`` of ``dW`` is the sum of ``dout`` over every position where token ``v`` occurred. A
    token that occurs twice must receive both contributions. ``dW[ids] += dout`` would not do
    that: with a repeated index NumPy applies only one of the writes. ``xp.add.at`` is the
    unbuffered version that adds every one (a *scatter-add*).

    Parameters
    ----------
    dout : (..., D) float
    cache : EmbeddingCache from :func:`embedding_forward`

    Returns
    -------
    dW : (V, D) float
    """
    ids, vocab_size = cache
    dW = np.zeros((vocab_size, dout.shape[-1]), dtype=dout.dtype)
    dW[ids] += dout              # BUG: buffered indexing keeps one write per repeated id
    return dW


def dropout_forward(x, p, rng, locked=False):
    """Inverted dropout: zero each unit with probability ``p`` and scale survivors by 1/(1-p).

    Scaling at training time keeps the expected activation unchanged, so evaluation simply skips
    dropout (no rescaling at test time). The mask is ``rng.random(mask_shape) >= p``.

    Parameters
    ----------
    x : (T, B, D) float (or any shape when ``locked=False``)
    p : float in [0, 1), drop probability
    rng : a NumPy or CuPy ``Generator`` on the same device as ``x``
    locked : bool
        "Locked" (variational) dropout draws one mask per sequence and feature, shape ``(1, B, D)``,
        and reuses it at every time step (Gal & Ghahramani 2016; AWD-LSTM).

    Returns
    -------
    out : same shape as ``x``
    mask : the scaled mask (broadcastable to ``x``), or None when ``p == 0``; the cache for
        :func:`dropout_backward`
    """
    if p == 0:
        return x, None
    mask_shape = (1,) + x.shape[1:] if locked else x.shape
    mask = (rng.random(mask_shape, dtype=x.dtype) >= p).astype(x.dtype)   # BUG: no 1 / (1 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    """Gradient of :func:`dropout_forward`: the same mask applied to ``dout``."""
    # Compute: dx = dout * mask (the forward pass multiplied by the mask, so does the backward
    #          pass); with mask None, dx = dout.
    raise NotImplementedError("dropout_backward is not written yet")


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of ``softmax(logits)`` against integer targets, and its gradient.

    .. math::  L = -\\frac{1}{N}\\sum_n \\log \\mathrm{softmax}(z_n)_{y_n}, \\qquad
               \\frac{\\partial L}{\\partial z_n} = \\frac{\\mathrm{softmax}(z_n) - \\mathrm{onehot}(y_n)}{N}

    Parameters
    ----------
    logits : (..., V) float, e.g. ``(T, B, V)``
    targets : (...) int, same leading shape as ``logits``, values in ``[0, V)``

    Returns
    -------
    loss : 0-d float array (on the device of ``logits``; ``float(loss)`` reads it)
    dlogits : (..., V) float, gradient of the *mean* loss
    """
    V = logits.shape[-1]
    z = logits.reshape(-1, V)
    y = targets.reshape(-1)
    N = z.shape[0]
    e = np.exp(z)                # BUG: no shift by the maximum; overflows for large logits
    probs = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean()
    dz = probs.copy()
    dz[np.arange(N), y] -= 1
    return loss, (dz / N).reshape(logits.shape)
