r"""The reading track of the transformer: layer norm, GELU, causal self-attention, the block.

The same conventions as :mod:`scratchlstm.nn.functional`: forward/backward pairs, caches as small
named tuples, any dtype kept, NumPy and CuPy alike, activations *time-major* ``(T, B, D)`` so that
a transformer plugs into the same trainer, generation and checkpoints as the LSTM.

A pre-norm transformer block (GPT-2's arrangement) maps ``x (T, B, D)`` to

.. math::
    x_1 &= x + \mathrm{Attention}(\mathrm{LN}_1(x)) \\
    x_2 &= x_1 + W_{proj}\, \mathrm{GELU}(W_{fc}\, \mathrm{LN}_2(x_1) + b_{fc}) + b_{proj}

The two additions are the residual paths: gradients reach the input unchanged through them, the
transformer's answer to the vanishing gradient that the LSTM answers with its cell state.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..backend import get_array_module
from .functional import (AffineCache, affine_backward, affine_forward, dropout_backward,
                         dropout_forward, softmax)


# ----------------------------------------------------------------------------------------------
# Layer normalisation
# ----------------------------------------------------------------------------------------------
class LayerNormCache(NamedTuple):
    xhat: object       # (..., D) the normalised input
    rstd: object       # (..., 1) 1 / sqrt(variance + eps)
    gamma: object      # (D,)


def layer_norm_forward(x, gamma, beta, eps: float = 1e-5):
    r"""Normalise each position's features to mean 0 and variance 1, then scale and shift.

    .. math:: \hat x = (x - \mu) / \sqrt{\sigma^2 + \epsilon}, \qquad y = \gamma \odot \hat x + \beta

    with :math:`\mu, \sigma^2` the mean and (biased) variance over the last axis.

    Parameters
    ----------
    x : (..., D) float; gamma, beta : (D,) float

    Returns
    -------
    y : (..., D) float; cache : LayerNormCache
    """
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    rstd = 1.0 / get_array_module(x).sqrt(var + eps)
    xhat = centred * rstd
    return gamma * xhat + beta, LayerNormCache(xhat, rstd, gamma)


def layer_norm_backward(dy, cache):
    r"""Gradients of :func:`layer_norm_forward`.

    Every :math:`\hat x_j` depends on every :math:`x_i` of its position (through the mean and the
    variance), which gives

    .. math:: dx = \frac{1}{\sqrt{\sigma^2 + \epsilon}} \left(d\hat x - \overline{d\hat x} -
              \hat x \, \overline{d\hat x \odot \hat x}\right), \qquad d\hat x = dy \odot \gamma

    with the bars the means over the last axis.

    Returns
    -------
    dx : (..., D), dgamma : (D,), dbeta : (D,)
    """
    xhat, rstd, gamma = cache
    D = xhat.shape[-1]
    dxhat = dy * gamma
    dx = rstd * (dxhat - dxhat.mean(axis=-1, keepdims=True)
                 - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True))
    dgamma = (dy * xhat).reshape(-1, D).sum(axis=0)
    dbeta = dy.reshape(-1, D).sum(axis=0)
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------------------------
# GELU
# ----------------------------------------------------------------------------------------------
_GELU_C = math.sqrt(2.0 / math.pi)


def gelu_forward(x):
    r"""GELU in its tanh form (GPT-2's; ``torch.nn.GELU(approximate="tanh")``).

    .. math:: \mathrm{GELU}(x) = \tfrac12 x \left(1 + \tanh\!\big(\sqrt{2/\pi}\,(x + 0.044715
              x^3)\big)\right)

    A smooth ReLU: about x for large x, about 0 for very negative x, with a small dip below 0.

    Returns
    -------
    y : same shape as x; cache : x
    """
    xp = get_array_module(x)
    return 0.5 * x * (1.0 + xp.tanh(_GELU_C * (x + 0.044715 * x ** 3))), x


def gelu_backward(dy, x):
    r"""Gradient of :func:`gelu_forward`:
    :math:`\tfrac12(1 + t) + \tfrac12 x (1 - t^2)\sqrt{2/\pi}(1 + 3 \cdot 0.044715 x^2)`,
    with :math:`t` the tanh of the forward pass."""
    xp = get_array_module(x)
    t = xp.tanh(_GELU_C * (x + 0.044715 * x ** 3))
    slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * x * x)
    return dy * slope


# ----------------------------------------------------------------------------------------------
# Causal multi-head self-attention
# ----------------------------------------------------------------------------------------------
class AttentionCache(NamedTuple):
    x: object          # (T, B, D) input
    Wqkv: object       # (D, 3D)
    q: object          # (B, heads, T, d) queries, d = D / heads
    k: object          # (B, heads, T, d) keys
    v: object          # (B, heads, T, d) values
    p: object          # (B, heads, T, T) attention weights (rows sum to 1, zero above the diagonal)
    o: object          # (T, B, D) the heads' outputs, concatenated
    Wo: object         # (D, D)
    scale: float       # 1 / sqrt(d)


def _split_heads(a, heads):
    """(T, B, D) -> (B, heads, T, D / heads), as a contiguous array: NumPy multiplies stacks of
    matrices with BLAS only when each matrix is laid out plainly, and a strided view of the
    fused projection falls back to a loop a hundred times slower."""
    T, B, D = a.shape
    return get_array_module(a).ascontiguousarray(a.reshape(T, B, heads, D // heads).transpose(1, 2, 0, 3))


def _merge_heads(a):
    """(B, heads, T, d) -> (T, B, heads * d)."""
    B, heads, T, d = a.shape
    return a.transpose(2, 0, 1, 3).reshape(T, B, heads * d)


def causal_self_attention_forward(x, Wqkv, bqkv, Wo, bo, heads: int):
    r"""Each position attends to itself and the positions before it, in ``heads`` heads.

    .. math::
        [Q, K, V] &= x W_{qkv} + b_{qkv} \qquad \text{(split into heads of size } d = D / h) \\
        P &= \mathrm{softmax}\!\left(Q K^\top / \sqrt d + M\right), \quad M_{ij} = -\infty
        \text{ for } j > i \\
        y &= \mathrm{concat}_{\text{heads}}(P V)\, W_o + b_o

    The mask :math:`M` keeps position i from seeing the future, so the model can be trained to
    predict every next token of a window at once.

    Parameters
    ----------
    x : (T, B, D) float
    Wqkv : (D, 3D), bqkv : (3D,): the query, key and value projections side by side
    Wo : (D, D), bo : (D,): the output projection
    heads : int, a divisor of D

    Returns
    -------
    y : (T, B, D) float; cache : AttentionCache
    """
    xp = get_array_module(x)
    T, B, D = x.shape
    if D % heads:
        raise ValueError(f"causal_self_attention_forward: D = {D} is not divisible by heads = {heads}")
    qkv, _ = affine_forward(x, Wqkv, bqkv)                         # (T, B, 3D)
    q, k, v = (_split_heads(qkv[..., j * D:(j + 1) * D], heads) for j in range(3))
    scale = 1.0 / math.sqrt(D // heads)
    scores = (q @ k.transpose(0, 1, 3, 2)) * scale                  # (B, heads, T, T)
    future = xp.triu(xp.ones((T, T), dtype=bool), k=1)              # j > i
    scores = xp.where(future, -xp.inf, scores)
    p = softmax(scores, axis=-1)
    o = _merge_heads(p @ v)                                         # (T, B, D)
    y, _ = affine_forward(o, Wo, bo)
    return y, AttentionCache(x, Wqkv, q, k, v, p, o, Wo, scale)


def causal_self_attention_backward(dy, cache):
    r"""Gradients of :func:`causal_self_attention_forward`.

    Backwards through the output projection, then :math:`O = PV` (:math:`dP = dO\,V^\top`,
    :math:`dV = P^\top dO`), then the softmax of each row
    (:math:`dS = P \odot (dP - \mathrm{rowsum}(dP \odot P))`; masked entries have P = 0 and get
    no gradient), then :math:`S = QK^\top/\sqrt d` (:math:`dQ = dS\,K/\sqrt d`,
    :math:`dK = dS^\top Q/\sqrt d`), and the input projection.

    Returns
    -------
    dx : (T, B, D), dWqkv : (D, 3D), dbqkv : (3D,), dWo : (D, D), dbo : (D,)
    """
    x, Wqkv, q, k, v, p, o, Wo, scale = cache
    xp = get_array_module(dy)
    heads = q.shape[1]
    do, dWo, dbo = affine_backward(dy, AffineCache(o, Wo))
    do = _split_heads(do, heads)                                    # (B, heads, T, d)
    dp = do @ v.transpose(0, 1, 3, 2)                               # (B, heads, T, T)
    dv = p.transpose(0, 1, 3, 2) @ do
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale    # through softmax and scale
    dq = ds @ k
    dk = ds.transpose(0, 1, 3, 2) @ q
    dqkv = xp.concatenate([_merge_heads(dq), _merge_heads(dk), _merge_heads(dv)], axis=-1)
    dx, dWqkv, dbqkv = affine_backward(dqkv, AffineCache(x, Wqkv))
    return dx, dWqkv, dbqkv, dWo, dbo


# ----------------------------------------------------------------------------------------------
# The pre-norm block
# ----------------------------------------------------------------------------------------------
#: The parameters of one block, by name, in this order.
BLOCK_PARAMETERS = ("ln1_gamma", "ln1_beta", "Wqkv", "bqkv", "Wo", "bo",
                    "ln2_gamma", "ln2_beta", "W_fc", "b_fc", "W_proj", "b_proj")


class BlockCache(NamedTuple):
    ln1: LayerNormCache
    attention: AttentionCache
    drop1: object      # dropout mask after attention, or None
    ln2: LayerNormCache
    fc: object         # AffineCache of the first MLP layer
    gelu: object       # GELU cache
    proj: object       # AffineCache of the second MLP layer
    drop2: object      # dropout mask after the MLP, or None


def transformer_block_forward(x, params: dict, heads: int, dropout: float = 0.0, rng=None):
    """One pre-norm transformer block (see the module docstring).

    Parameters
    ----------
    x : (T, B, D) float
    params : dict with the arrays of :data:`BLOCK_PARAMETERS`: ``ln*_gamma``, ``ln*_beta`` (D,);
        ``Wqkv`` (D, 3D), ``bqkv`` (3D,), ``Wo`` (D, D), ``bo`` (D,); ``W_fc`` (D, F), ``b_fc``
        (F,), ``W_proj`` (F, D), ``b_proj`` (D,) with F the MLP width (4D in GPT-2)
    heads : int
    dropout : float, on the output of the attention and of the MLP, before each residual addition
    rng : a Generator for the dropout masks (needed when dropout > 0)

    Returns
    -------
    y : (T, B, D) float; cache : BlockCache
    """
    P = params
    a, ln1 = layer_norm_forward(x, P["ln1_gamma"], P["ln1_beta"])
    attended, attention = causal_self_attention_forward(a, P["Wqkv"], P["bqkv"], P["Wo"], P["bo"], heads)
    attended, drop1 = dropout_forward(attended, dropout, rng)
    x1 = x + attended                                               # residual 1
    c, ln2 = layer_norm_forward(x1, P["ln2_gamma"], P["ln2_beta"])
    hidden, fc = affine_forward(c, P["W_fc"], P["b_fc"])
    activated, gelu = gelu_forward(hidden)
    m, proj = affine_forward(activated, P["W_proj"], P["b_proj"])
    m, drop2 = dropout_forward(m, dropout, rng)
    return x1 + m, BlockCache(ln1, attention, drop1, ln2, fc, gelu, proj, drop2)   # residual 2


def transformer_block_backward(dy, cache):
    """Gradients of :func:`transformer_block_forward`.

    Each residual addition hands its gradient to both of its inputs unchanged: ``dy`` flows
    straight to ``x1``, and on from there to ``x``, besides going through the MLP and the
    attention.

    Returns
    -------
    dx : (T, B, D); grads : dict name -> gradient, for every name of :data:`BLOCK_PARAMETERS`
    """
    ln1, attention, drop1, ln2, fc, gelu, proj, drop2 = cache
    g = {}
    dm = dropout_backward(dy, drop2)
    dactivated, g["W_proj"], g["b_proj"] = affine_backward(dm, proj)
    dhidden = gelu_backward(dactivated, gelu)
    dc, g["W_fc"], g["b_fc"] = affine_backward(dhidden, fc)
    dx1_mlp, g["ln2_gamma"], g["ln2_beta"] = layer_norm_backward(dc, ln2)
    dx1 = dy + dx1_mlp                                              # residual 2: both paths
    dattended = dropout_backward(dx1, drop1)
    da, g["Wqkv"], g["bqkv"], g["Wo"], g["bo"] = causal_self_attention_backward(dattended, attention)
    dx_attention, g["ln1_gamma"], g["ln1_beta"] = layer_norm_backward(da, ln1)
    return dx1 + dx_attention, {name: g[name] for name in BLOCK_PARAMETERS}   # residual 1
