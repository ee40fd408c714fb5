"""Layers: modules that own parameters and call forward/backward pairs.

Each layer remembers the cache of its last ``forward`` call; ``backward(dout)`` consumes it,
accumulates the parameter gradients into ``Parameter.grad`` and returns the gradient of the input.
One forward, then one backward: the same rhythm as a training step.

Which pairs a layer calls is its ``functional`` argument: the speed track
:mod:`scratchlstm.nn.fast` by default, the reading track :mod:`scratchlstm.nn.functional`, or a
student's workbook (see :func:`scratchlstm.nn.tracks.resolve_functional`). The numbers are the
same; only the speed differs.

Initial weights are drawn from a *host* NumPy generator passed in by the caller, so a model built
with the same seed starts from the same numbers on CPU and GPU.
"""
from __future__ import annotations

from ..backend import get_array_module, resolve_dtype, np
from . import fast
from .counter_random import CounterRandom
from .module import Module, Parameter
from .regularisers import (embedding_dropout_backward, embedding_dropout_forward,
                           weight_drop_backward, weight_drop_forward)
from .tracks import resolve_functional


def _uniform(rng, bound, shape, dtype):
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def _require_cache(layer, cache):
    if cache is None:
        raise RuntimeError(f"{type(layer).__name__}: no cache of a forward pass (backward called "
                           "without a preceding forward, twice for one forward, or after a "
                           "forward inside `with model.inference():`, which keeps none): run "
                           "forward first, outside inference()")


class Embedding(Module):
    """Token ids to vectors: ``out[t, b] = weight[ids[t, b]]``.

    Parameters
    ----------
    num_embeddings : int, vocabulary size V
    embedding_dim : int, vector size D
    rng : numpy Generator for the initial weights, U(-init_range, init_range)
    word_dropout : float, AWD-LSTM's embedding dropout: in training, drop whole rows (words) of the
        matrix with this probability, once per window (see
        :func:`~scratchlstm.nn.regularisers.embedding_dropout_forward`)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, rng=None, dtype="float32",
                 init_range: float = 0.1, functional=None, word_dropout: float = 0.0):
        rng = rng if rng is not None else np.random.default_rng(0)
        self.F = resolve_functional(functional)
        self.weight = Parameter(_uniform(rng, init_range, (num_embeddings, embedding_dim),
                                         resolve_dtype(dtype)))
        self.word_drop = Dropout(word_dropout, mask_source=True)   # the random source of the row masks
        self._cache = None
        self._row_mask = None

    def forward(self, ids):
        """ids : (T, B) int -> (T, B, D) float"""
        W, self._row_mask = self.weight.data, None
        if self.training and self.word_drop.p:
            W, self._row_mask = embedding_dropout_forward(W, self.word_drop.p, self.word_drop.generator(W))
        out, self._cache = self.F.embedding_forward(ids, W)
        return out

    def backward(self, dout) -> None:
        """dout : (T, B, D). Accumulates into ``weight.grad``; ids have no gradient."""
        _require_cache(self, self._cache)
        dW = self.F.embedding_backward(dout, self._cache)
        self.weight.accumulate(embedding_dropout_backward(dW, self._row_mask))
        self._cache = None


class Linear(Module):
    """``y = x W + b`` with ``W (in_features, out_features)``.

    With ``tied_weight`` (a ``(out_features, in_features)`` Parameter, typically an embedding
    matrix) the layer uses ``W = tied_weight.T`` and owns no weight of its own: this is weight
    tying (Press & Wolf 2017; Inan et al. 2017). Its gradient is added, transposed, to the shared
    parameter, on top of whatever the embedding adds.
    """

    def __init__(self, in_features: int, out_features: int, rng=None, dtype="float32",
                 init_range: float | None = None, tied_weight: Parameter | None = None,
                 functional=None):
        dtype = resolve_dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.F = resolve_functional(functional)
        if tied_weight is not None:
            if tied_weight.shape != (out_features, in_features):
                raise ValueError(f"Linear: tied weight must have shape ({out_features}, "
                                 f"{in_features}), got {tied_weight.shape}")
            self.tied_weight = tied_weight
        else:
            bound = init_range if init_range is not None else 1.0 / np.sqrt(in_features)
            self.weight = Parameter(_uniform(rng, bound, (in_features, out_features), dtype))
        self.bias = Parameter(np.zeros(out_features, dtype=dtype))
        self._cache = None

    @property
    def W(self):
        """The effective ``(in_features, out_features)`` weight matrix."""
        tied = getattr(self, "tied_weight", None)
        return tied.data.T if tied is not None else self.weight.data

    def forward(self, x):
        """x : (..., in_features) -> (..., out_features)"""
        y, self._cache = self.F.affine_forward(x, self.W, self.bias.data)
        return y

    def backward(self, dy):
        """dy : (..., out_features) -> dx : (..., in_features); accumulates weight/bias grads."""
        _require_cache(self, self._cache)
        dx, dW, db = self.F.affine_backward(dy, self._cache)
        self._cache = None
        tied = getattr(self, "tied_weight", None)
        if tied is not None:
            tied.accumulate(dW.T)
        else:
            self.weight.accumulate(dW)
        self.bias.accumulate(db)
        return dx


class Dropout(Module):
    """Inverted dropout with probability ``p``; ``locked=True`` reuses one mask over time.

    Active only in training mode. The masks come from a :class:`CounterRandom`: a pure function of
    the layer's seed, the training step and how many masks were drawn in that step, computed on the
    device of the input. So no random generator is ever created (on a GPU each one would initialise
    cuRAND state), a resumed run draws exactly the masks of an uninterrupted one, and the CPU and
    the GPU draw the same masks. :meth:`seed` moves to a new position (the model seeds all its
    dropout layers from one number; the trainer moves them to each step).
    """

    def __init__(self, p: float = 0.0, locked: bool = False, seed: int = 0, functional=None,
                 mask_source: bool = False):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.F = resolve_functional(functional)
        self.p = float(p)
        self.locked = locked
        self.mask_source = mask_source      # True: only lends its random stream to a regulariser
        self._random = CounterRandom(seed)
        self._mask = None

    def seed(self, seed: int, step: int = 0) -> None:
        """Restart the mask sequence at ``(seed, step)`` (repeatable runs, resuming, gradient
        checks). Only integers change: nothing is allocated."""
        self._random.restart(seed, step)

    def generator(self, x):
        """The layer's random source, set to draw on the device of ``x``: its masks, and the masks
        of regularisers that borrow a dropout layer's stream (weight drop, embedding dropout)."""
        self._random.xp = get_array_module(x)       # draw where the activations are
        return self._random

    _generator = generator

    def forward(self, x):
        if not self.training or self.p == 0.0:
            self._mask = None
            return x
        out, self._mask = self.F.dropout_forward(x, self.p, self._generator(x), locked=self.locked)
        return out

    def backward(self, dout):
        return self.F.dropout_backward(dout, self._mask)


def _next_cell(step):
    """c_t of an LSTMStepCache, from what it holds: f * c_prev + i * g."""
    return step.f * step.c_prev + step.i * step.g


class LSTMLayer(Module):
    """One LSTM layer over time: parameters ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``.

    Gate blocks are ordered i, f, g, o. Initialisation is U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch,
    or U(-init_range, init_range) when given; ``forget_bias`` is added to the forget-gate block of
    ``b`` (1.0 helps gradients flow early in training, Jozefowicz et al. 2015).

    ``weight_drop`` is AWD-LSTM's DropConnect on ``Wh``: in training, one mask per window (see
    :func:`~scratchlstm.nn.regularisers.weight_drop_forward`); the LSTM runs on the dropped
    matrix and the gradient reaches ``Wh`` through the same mask.
    """

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype="float32",
                 init_range: float | None = None, forget_bias: float = 0.0, functional=None,
                 weight_drop: float = 0.0):
        dtype = resolve_dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.F = resolve_functional(functional)
        H = hidden_size
        bound = init_range if init_range is not None else 1.0 / np.sqrt(H)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.Wx = Parameter(_uniform(rng, bound, (input_size, 4 * H), dtype))
        self.Wh = Parameter(_uniform(rng, bound, (H, 4 * H), dtype))
        b = np.zeros(4 * H, dtype=dtype)
        b[H:2 * H] = forget_bias
        self.b = Parameter(b)
        self.weight_drop = Dropout(weight_drop, mask_source=True)  # the source of the DropConnect masks
        self._cache = None
        self._wh_mask = None
        self._workspace = {}       # big work arrays reused from window to window

    def forward(self, x, h0, c0):
        """x : (T, B, D), h0, c0 : (B, H) -> hs (T, B, H), (h_T, c_T)"""
        if not self.training and not self.keep_cache and self.F is fast:
            # inside model.inference(): no backward follows, so keep no history
            self._cache = self._wh_mask = None
            return fast.lstm_inference(x, h0, c0, self.Wx.data, self.Wh.data, self.b.data,
                                       workspace=self._workspace)
        Wh, self._wh_mask = self.Wh.data, None
        if self.training and self.weight_drop.p:
            Wh, self._wh_mask = weight_drop_forward(Wh, self.weight_drop.p, self.weight_drop.generator(Wh))
        hs, final, self._cache = self.F.lstm_forward(x, h0, c0, self.Wx.data, Wh, self.b.data,
                                                     **self._speed_options())
        return hs, final

    def _speed_options(self) -> dict:
        """The speed track reuses the layer's work arrays; other tracks take no such option."""
        return {"workspace": self._workspace} if self.F is fast else {}

    def activations(self) -> dict:
        """What the layer computed in its last forward pass, for plots and lessons.

        Returns
        -------
        dict of arrays, each (T, B, H): gates ``"i"``, ``"f"``, ``"g"``, ``"o"``, cell state ``"c"``
        and hidden state ``"h"`` (views into the cache, whose memory the next forward reuses:
        copy them to keep them)
        """
        _require_cache(self, self._cache)
        cache = self._cache
        if isinstance(cache, fast.FastLSTMCache):
            H = self.hidden_size
            gates = cache.gates
            return {"i": gates[..., :H], "f": gates[..., H:2 * H], "g": gates[..., 2 * H:3 * H],
                    "o": gates[..., 3 * H:], "c": cache.cs, "h": cache.hs}
        steps = getattr(cache, "steps", None)
        if steps is None:
            raise TypeError("activations() reads the cache of the library's lstm_forward (an "
                            f"LSTMCache or FastLSTMCache), but this layer's cache is a "
                            f"{type(cache).__name__}")
        xp = get_array_module(steps[0].i)
        out = {name: xp.stack([getattr(s, name) for s in steps]) for name in "ifgo"}
        out["h"] = xp.stack([s.o * s.tanh_c for s in steps])
        out["c"] = xp.stack([s.c_prev for s in steps[1:]] + [_next_cell(steps[-1])])
        return out

    def backward(self, dhs, dh_T=None, dc_T=None):
        """-> dx (T, B, D), dh0 (B, H), dc0 (B, H); accumulates into Wx, Wh, b."""
        _require_cache(self, self._cache)
        dx, dh0, dc0, dWx, dWh, db = self.F.lstm_backward(dhs, self._cache, dh_T, dc_T,
                                                          **self._speed_options())
        self._cache = None
        self.Wx.accumulate(dWx)
        self.Wh.accumulate(weight_drop_backward(dWh, self._wh_mask))
        self.b.accumulate(db)
        return dx, dh0, dc0


class LSTM(Module):
    """A stack of ``num_layers`` LSTM layers, with dropout between layers (as ``torch.nn.LSTM``).

    ``forward(x, state)`` returns the top layer's outputs and the final state of every layer;
    feeding that state back in as the next window's initial state is truncated BPTT: the values
    carry over, the gradient does not (each ``forward`` starts a new graph).

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
    dropout : float, drop probability on the outputs of every layer but the last
    weight_drop : float, DropConnect on every layer's recurrent weights (AWD-LSTM)
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 rng=None, dtype="float32", init_range: float | None = None,
                 forget_bias: float = 0.0, locked_dropout: bool = False, seed: int = 0,
                 functional=None, weight_drop: float = 0.0):
        if num_layers < 1:
            raise ValueError(f"LSTM: num_layers must be >= 1, got {num_layers}")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.layers = [LSTMLayer(input_size if k == 0 else hidden_size, hidden_size, rng, dtype,
                                 init_range, forget_bias, functional=functional,
                                 weight_drop=weight_drop)
                       for k in range(num_layers)]
        self.drops = [Dropout(dropout, locked=locked_dropout, seed=seed + k, functional=functional)
                      for k in range(num_layers - 1)]

    def init_state(self, batch_size: int):
        """Zero state ``(h0, c0)``, each ``(num_layers, B, H)``, on this module's device."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        return self.xp.zeros(shape, dtype=self.dtype), self.xp.zeros(shape, dtype=self.dtype)

    def forward(self, x, state=None):
        """x : (T, B, D) -> hs (T, B, H), (h_T, c_T) each (num_layers, B, H)"""
        if state is None:
            state = self.init_state(x.shape[1])
        h0, c0 = state
        expected = (self.num_layers, x.shape[1], self.hidden_size)
        if tuple(h0.shape) != expected or tuple(c0.shape) != expected:
            raise ValueError(f"LSTM: state tensors must have shape {expected} (layers, batch, "
                             f"hidden), got {tuple(h0.shape)} and {tuple(c0.shape)}")
        xp = get_array_module(x)
        h_final, c_final = xp.empty_like(h0), xp.empty_like(c0)
        out = x
        for k, layer in enumerate(self.layers):
            out, (h_final[k], c_final[k]) = layer(out, h0[k], c0[k])
            if k < self.num_layers - 1:
                out = self.drops[k](out)
        return out, (h_final, c_final)

    def backward(self, dhs, dstate=None):
        """dhs : (T, B, H) -> dx (T, B, D), (dh0, dc0) each (num_layers, B, H)"""
        xp = get_array_module(dhs)
        B = dhs.shape[1]
        dh0 = xp.empty((self.num_layers, B, self.hidden_size), dtype=dhs.dtype)
        dc0 = xp.empty_like(dh0)
        grad = dhs
        for k in range(self.num_layers - 1, -1, -1):
            dh_T = dstate[0][k] if dstate is not None else None
            dc_T = dstate[1][k] if dstate is not None else None
            grad, dh0[k], dc0[k] = self.layers[k].backward(grad, dh_T, dc_T)
            if k > 0:
                grad = self.drops[k - 1].backward(grad)
        return grad, (dh0, dc0)


class RNNLayer(Module):
    """One vanilla RNN layer over time: ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``."""

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype="float32",
                 init_range: float | None = None, functional=None):
        dtype = resolve_dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.F = resolve_functional(functional)
        bound = init_range if init_range is not None else 1.0 / np.sqrt(hidden_size)
        self.Wx = Parameter(_uniform(rng, bound, (input_size, hidden_size), dtype))
        self.Wh = Parameter(_uniform(rng, bound, (hidden_size, hidden_size), dtype))
        self.b = Parameter(np.zeros(hidden_size, dtype=dtype))
        self._cache = None

    def forward(self, x, h0):
        """x : (T, B, D), h0 : (B, H) -> hs (T, B, H), (h_T,)"""
        hs, h_T, self._cache = self.F.rnn_forward(x, h0, self.Wx.data, self.Wh.data, self.b.data)
        return hs, (h_T,)

    def backward(self, dhs, dh_T=None):
        _require_cache(self, self._cache)
        dx, dh0, dWx, dWh, db = self.F.rnn_backward(dhs, self._cache, dh_T)
        self._cache = None
        self.Wx.accumulate(dWx)
        self.Wh.accumulate(dWh)
        self.b.accumulate(db)
        return dx, (dh0,)


class GRULayer(Module):
    """One GRU layer over time (PyTorch's formulation): ``Wx (D, 3H)``, ``Wh (H, 3H)``, two biases."""

    def __init__(self, input_size: int, hidden_size: int, rng=None, dtype="float32",
                 init_range: float | None = None, functional=None):
        dtype = resolve_dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng(0)
        self.F = resolve_functional(functional)
        H = hidden_size
        bound = init_range if init_range is not None else 1.0 / np.sqrt(H)
        self.Wx = Parameter(_uniform(rng, bound, (input_size, 3 * H), dtype))
        self.Wh = Parameter(_uniform(rng, bound, (H, 3 * H), dtype))
        self.bx = Parameter(np.zeros(3 * H, dtype=dtype))
        self.bh = Parameter(np.zeros(3 * H, dtype=dtype))
        self._cache = None

    def forward(self, x, h0):
        hs, h_T, self._cache = self.F.gru_forward(x, h0, self.Wx.data, self.Wh.data, self.bx.data, self.bh.data)
        return hs, (h_T,)

    def backward(self, dhs, dh_T=None):
        _require_cache(self, self._cache)
        dx, dh0, dWx, dWh, dbx, dbh = self.F.gru_backward(dhs, self._cache, dh_T)
        self._cache = None
        for p, g in ((self.Wx, dWx), (self.Wh, dWh), (self.bx, dbx), (self.bh, dbh)):
            p.accumulate(g)
        return dx, (dh0,)


class RecurrentStack(Module):
    """A stack of vanilla RNN or GRU layers with the same interface as :class:`LSTM`.

    The state is a 1-tuple ``(h,)`` with ``h (num_layers, B, H)`` (these cells have no separate
    cell state), so code that carries ``state`` between windows works unchanged.
    """

    CELLS = {"rnn": RNNLayer, "gru": GRULayer}

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 dropout: float = 0.0, rng=None, dtype="float32", init_range: float | None = None,
                 locked_dropout: bool = False, seed: int = 0, functional=None):
        if cell not in self.CELLS:
            raise ValueError(f"cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.layers = [self.CELLS[cell](input_size if k == 0 else hidden_size, hidden_size, rng, dtype,
                                        init_range, functional=functional) for k in range(num_layers)]
        self.drops = [Dropout(dropout, locked=locked_dropout, seed=seed + k, functional=functional)
                      for k in range(num_layers - 1)]

    def init_state(self, batch_size: int):
        return (self.xp.zeros((self.num_layers, batch_size, self.hidden_size), dtype=self.dtype),)

    def forward(self, x, state=None):
        """x : (T, B, D) -> hs (T, B, H), (h_T,) with h_T (num_layers, B, H)"""
        (h0,) = state if state is not None else self.init_state(x.shape[1])
        expected = (self.num_layers, x.shape[1], self.hidden_size)
        if tuple(h0.shape) != expected:
            raise ValueError(f"{self.cell}: state must have shape {expected}, got {tuple(h0.shape)}")
        h_final = get_array_module(x).empty_like(h0)
        out = x
        for k, layer in enumerate(self.layers):
            out, (h_final[k],) = layer(out, h0[k])
            if k < self.num_layers - 1:
                out = self.drops[k](out)
        return out, (h_final,)

    def backward(self, dhs, dstate=None):
        dh0 = get_array_module(dhs).empty((self.num_layers,) + dhs.shape[1:], dtype=dhs.dtype)
        grad = dhs
        for k in range(self.num_layers - 1, -1, -1):
            grad, (dh0[k],) = self.layers[k].backward(grad, dstate[0][k] if dstate is not None else None)
            if k > 0:
                grad = self.drops[k - 1].backward(grad)
        return grad, (dh0,)
