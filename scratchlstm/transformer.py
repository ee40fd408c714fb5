"""A GPT-style transformer language model, written by hand like the LSTM, to compare with it.

>>> model = TransformerLanguageModel(vocab_size=65, d_model=64, n_heads=4, n_layers=2, block_size=64)
>>> logits, state = model(ids)                   # ids (T, B) -> logits (T, B, V), as the LSTM
>>> model.backward(model.loss(logits, targets)[1])

Token and learned position embeddings, ``n_layers`` pre-norm blocks
(:func:`~scratchlstm.nn.attention.transformer_block_forward`), a final layer norm and a decoder
that shares the token embedding by default. It speaks the LSTM's protocol, so the Trainer,
checkpoints, generation, the gradient checks and the CLI take it unchanged.

The state
---------
An LSTM carries a hidden state from window to window; a transformer carries *context*: the last
tokens it has seen. ``state`` is ``(context,)`` with ``context (C, B)`` token ids; ``forward``
puts as much of it in front of the new ids as fits into ``block_size`` positions and returns
logits for the new ids only. So generation (one new token at a time) slides a window of
``block_size`` tokens along the text, while training windows of ``bptt == block_size`` tokens
see no context at all: the classic transformer language-model training.
"""
from __future__ import annotations

import math

from .backend import Array, get_array_module, resolve_dtype, np
from .models import LanguageModel
from .nn import attention as A
from .nn.layers import Dropout, Embedding, Linear
from .nn.module import Module, Parameter
from .nn.tracks import resolve_functional


def count_transformer_parameters(vocab_size: int, d_model: int, n_layers: int, block_size: int,
                                 mlp_ratio: int = 4, tie_weights: bool = True) -> int:
    """Parameters of a :class:`TransformerLanguageModel`, from its shape alone.

    Token embedding ``V D`` and positions ``block D``; per block two layer norms ``4D``, the
    attention ``D (3D) + 3D + D D + D`` and the MLP ``D F + F + F D + D`` with ``F = mlp_ratio D``;
    the final layer norm ``2D``; the decoder ``V`` (bias) plus ``D V`` when not tied.
    """
    D, F = d_model, mlp_ratio * d_model
    block = 4 * D + (3 * D * D + 3 * D) + (D * D + D) + (D * F + F) + (F * D + D)
    return vocab_size * D + block_size * D + n_layers * block + 2 * D + vocab_size + \
        (0 if tie_weights else D * vocab_size)


def _normal(rng, std, shape, dtype):
    return (rng.standard_normal(shape) * std).astype(dtype)


class TransformerBlock(Module):
    """The parameters of one pre-norm block, and its forward/backward pair.

    Initialisation as GPT-2: weights N(0, 0.02), the two projections that end a residual branch
    (``Wo``, ``W_proj``) scaled down by sqrt(2 n_layers) so that the residual sum does not grow
    with depth, biases zero, layer norms the identity.
    """

    def __init__(self, d_model: int, n_heads: int, mlp_dim: int, n_layers: int, rng, dtype,
                 dropout: float = 0.0):
        D, F = d_model, mlp_dim
        std, proj_std = 0.02, 0.02 / math.sqrt(2 * n_layers)
        shapes = {"ln1_gamma": (D,), "ln1_beta": (D,), "Wqkv": (D, 3 * D), "bqkv": (3 * D,),
                  "Wo": (D, D), "bo": (D,), "ln2_gamma": (D,), "ln2_beta": (D,), "W_fc": (D, F),
                  "b_fc": (F,), "W_proj": (F, D), "b_proj": (D,)}
        for name in A.BLOCK_PARAMETERS:
            if name.startswith("ln") and name.endswith("gamma"):
                value = np.ones(shapes[name], dtype=dtype)
            elif name.startswith(("W",)):
                value = _normal(rng, proj_std if name in ("Wo", "W_proj") else std, shapes[name], dtype)
            else:
                value = np.zeros(shapes[name], dtype=dtype)
            setattr(self, name, Parameter(value))
        self.n_heads = n_heads
        self.drop = Dropout(dropout)
        self._cache = None

    def params(self) -> dict:
        return {name: getattr(self, name).data for name in A.BLOCK_PARAMETERS}

    def forward(self, x):
        """x : (T, B, D) -> (T, B, D)"""
        p = self.drop.p if self.training else 0.0
        rng = self.drop._generator(x) if p else None
        y, self._cache = A.transformer_block_forward(x, self.params(), self.n_heads, p, rng)
        return y

    def backward(self, dy):
        """dy : (T, B, D) -> dx (T, B, D); accumulates into every parameter of the block."""
        if self._cache is None:
            raise RuntimeError("TransformerBlock.backward called without a preceding forward")
        dx, grads = A.transformer_block_backward(dy, self._cache)
        self._cache = None
        for name, g in grads.items():
            getattr(self, name).accumulate(g)
        return dx


class TransformerLanguageModel(LanguageModel):
    """A decoder-only transformer language model (GPT-2's layout), from scratch.

    Parameters
    ----------
    vocab_size : int, V
    d_model : int, D, the width of every position's vector
    n_heads : int, attention heads (a divisor of D)
    n_layers : int, blocks
    block_size : int, the longest context, in tokens (the position embedding has this many rows)
    dropout : float, on the embeddings and at the end of each residual branch
    tie_weights : bool, share the token embedding with the decoder (default True, as GPT-2)
    mlp_ratio : int, the MLP width as a multiple of D (default 4)
    dtype : "float32" or "float64"; seed : int; device : as for the LSTM
    """

    def __init__(self, vocab_size: int, d_model: int, n_heads: int, n_layers: int, block_size: int,
                 dropout: float = 0.0, tie_weights: bool = True, mlp_ratio: int = 4,
                 dtype="float32", seed: int = 0, device: str | None = None):
        for name, value in (("vocab_size", vocab_size), ("d_model", d_model), ("n_heads", n_heads),
                            ("n_layers", n_layers), ("block_size", block_size), ("mlp_ratio", mlp_ratio)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TransformerLanguageModel: {name} must be a positive integer, got {value!r}")
        if d_model % n_heads:
            raise ValueError(f"TransformerLanguageModel: d_model = {d_model} must be divisible by "
                             f"n_heads = {n_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"TransformerLanguageModel: dropout must be in [0, 1), got {dropout!r}")
        dtype = resolve_dtype(dtype)
        self.config = dict(vocab_size=int(vocab_size), d_model=int(d_model), n_heads=int(n_heads),
                           n_layers=int(n_layers), block_size=int(block_size), dropout=float(dropout),
                           tie_weights=bool(tie_weights), mlp_ratio=int(mlp_ratio), dtype=str(dtype),
                           seed=int(seed))
        self.F = resolve_functional(None)
        rng = np.random.default_rng(seed)
        self.embedding = Embedding(vocab_size, d_model, dtype=dtype)
        self.embedding.weight.data[...] = _normal(rng, 0.02, (vocab_size, d_model), dtype)
        self.position = Embedding(block_size, d_model, dtype=dtype)
        self.position.weight.data[...] = _normal(rng, 0.01, (block_size, d_model), dtype)
        self.drop_in = Dropout(dropout)
        self.blocks = [TransformerBlock(d_model, n_heads, mlp_ratio * d_model, n_layers, rng, dtype,
                                        dropout) for _ in range(n_layers)]
        self.ln_gamma = Parameter(np.ones(d_model, dtype=dtype))
        self.ln_beta = Parameter(np.zeros(d_model, dtype=dtype))
        self.decoder = Linear(d_model, vocab_size, rng, dtype, init_range=0.02,
                              tied_weight=self.embedding.weight if tie_weights else None)
        self._cache = None
        self.seed_dropout(seed)
        if device is not None:
            self.to(device)

    @property
    def block_size(self) -> int:
        return self.config["block_size"]

    def init_state(self, batch_size: int) -> tuple:
        """No context yet: ``(context,)`` with ``context (0, B)``."""
        return (self.xp.zeros((0, batch_size), dtype=np.int64),)

    def forward(self, ids: Array, state: tuple | None = None) -> tuple[Array, tuple]:
        """Logits for the next token at every new position.

        Parameters
        ----------
        ids : (T, B) int, the new token ids, T <= block_size
        state : ``(context,)`` with context (C, B) int, tokens seen before; None means none

        Returns
        -------
        logits : (T, B, V) float
        state : ``(context,)``, the last ``block_size - 1`` tokens seen, for the next call
        """
        if getattr(ids, "ndim", None) != 2:
            raise ValueError(f"ids must have shape (T, B) (time-major), got shape {getattr(ids, 'shape', None)}")
        T, B = ids.shape
        if T > self.block_size:
            raise ValueError(f"a window of {T} tokens is longer than the model's block_size "
                             f"{self.block_size}: use bptt <= {self.block_size}")
        ids = self.to_device_ids(ids)
        xp = get_array_module(ids)
        context = state[0] if state is not None else self.init_state(B)[0]
        if context.shape[1:] != (B,):
            raise ValueError(f"state context must have shape (C, {B}), got {tuple(context.shape)}")
        keep = min(self.block_size - T, context.shape[0])
        tokens = xp.concatenate([context[context.shape[0] - keep:], ids], axis=0)   # (keep + T, B)
        positions = xp.arange(tokens.shape[0])
        x = self.embedding(tokens) + self.position(positions)[:, None, :]
        x = self.drop_in(x)
        for block in self.blocks:
            x = block(x)
        x, ln_cache = A.layer_norm_forward(x, self.ln_gamma.data, self.ln_beta.data)
        self._cache = (keep, ln_cache)
        logits = self.decoder(x[keep:])
        return logits, (tokens[max(0, tokens.shape[0] - (self.block_size - 1)):],)

    def backward(self, dlogits: Array) -> None:
        """Backpropagate ``dloss/dlogits (T, B, V)`` into every parameter (accumulating)."""
        if self._cache is None:
            raise RuntimeError("TransformerLanguageModel.backward called without a preceding forward")
        keep, ln_cache = self._cache
        self._cache = None
        dx_new = self.decoder.backward(dlogits)                          # (T, B, D)
        xp = get_array_module(dx_new)
        dx = xp.concatenate([xp.zeros((keep,) + dx_new.shape[1:], dtype=dx_new.dtype), dx_new])
        dx, dgamma, dbeta = A.layer_norm_backward(dx, ln_cache)
        self.ln_gamma.accumulate(dgamma)
        self.ln_beta.accumulate(dbeta)
        for block in reversed(self.blocks):
            dx = block.backward(dx)
        dx = self.drop_in.backward(dx)
        self.position.backward(dx.sum(axis=1))                           # every batch row shares them
        self.embedding.backward(dx)

    def describe(self) -> str:
        """E.g. ``2-block transformer, d_model 128, 4 heads, context 64 tokens, tied``."""
        c = self.config
        return (f"{c['n_layers']}-block transformer, d_model {c['d_model']}, {c['n_heads']} heads, "
                f"context {c['block_size']} tokens" + (", tied" if c["tie_weights"] else ""))

    def __repr__(self) -> str:
        c = self.config
        return (f"TransformerLanguageModel(vocab={c['vocab_size']}, d_model={c['d_model']}, "
                f"heads={c['n_heads']}, layers={c['n_layers']}, block={c['block_size']}, "
                f"dropout={c['dropout']}, tied={c['tie_weights']}, params={self.num_parameters():,}, "
                f"device={self.device}, dtype={self.dtype})")
