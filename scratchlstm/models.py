"""The LSTM language model: embedding -> dropout -> stacked LSTM -> dropout -> linear decoder.

>>> model = LSTMLanguageModel(vocab_size=50, embed_dim=16, hidden_dim=32, num_layers=2)
>>> logits, state = model(ids)                   # ids (T, B) -> logits (T, B, V)
>>> loss, dlogits = softmax_cross_entropy(logits, targets)
>>> model.backward(dlogits)                       # every Parameter.grad now holds dloss/dparam
"""
from __future__ import annotations

import math
import numbers

from .backend import Array, resolve_device, resolve_dtype, to_device, to_host, np
from .nn import fast
from .nn.layers import LSTM, Dropout, Embedding, Linear, RecurrentStack
from .nn.module import Module
from .nn.regularisers import activation_regularisation, temporal_activation_regularisation
from .nn.tracks import resolve_functional, track_name


def validate_token_ids(ids, vocab_size: int, name: str = "ids") -> None:
    """Raise a clear error for ids that are not integers or lie outside ``[0, vocab_size)``.

    Done before the lookup because an out-of-range index wraps around silently on the GPU.
    """
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer array of token ids, got dtype {ids.dtype}")
    if ids.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(ids.shape)}): need at least one token")
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} contains token id {bad}, outside the vocabulary [0, {vocab_size}). "
                         "Was the data encoded with a different tokenizer than the model was built for?")


def _is_real(value) -> bool:
    """A real number that is not a bool (``True`` is an int in Python)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def count_parameters(vocab_size: int, embed_dim: int, hidden_dim: int, num_layers: int = 1,
                     cell: str = "lstm", tie_weights: bool = False) -> int:
    """Parameters of a language model, from its shape alone (no weights are built).

    ``V E`` (embedding) + per layer ``G (D H + H H + H)`` with ``G`` = 4 gates for the LSTM, 3 for
    the GRU (which has a second bias, ``+ 3H``), 1 for the RNN, and ``D`` = E for the first layer
    and H above it + ``H V + V`` (decoder; only ``V`` with tied weights).
    """
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    total = vocab_size * embed_dim
    for k in range(num_layers):
        d = embed_dim if k == 0 else hidden_dim
        total += gates * hidden_dim * (d + hidden_dim + (2 if cell == "gru" else 1))
    return total + (0 if tie_weights else hidden_dim * vocab_size) + vocab_size


class LanguageModel(Module):
    """What every language model of the library shares: token ids in, logits out.

    A subclass defines ``config`` (a dict with at least ``vocab_size``), ``forward(ids, state)``
    -> ``(logits (T, B, V), state)``, ``backward(dlogits)`` and ``init_state(batch_size)``, and
    uses ``self.F`` for its loss. The Trainer, checkpoints, generation and the gradient checks need
    nothing else.
    """

    @property
    def vocab_size(self) -> int:
        return self.config["vocab_size"]

    def seed_dropout(self, seed: int, step: int = 0) -> None:
        """Put every dropout layer at ``(seed, step)`` of its mask sequence.

        Layer ``k`` gets the stream ``seed * 1000 + k``; ``step`` is the position in it (the
        trainer passes its global step, so a resumed run draws the masks an uninterrupted one
        draws). Cheap: it sets integers, it creates no random generator.
        """
        dropouts = [m for m in self.modules() if isinstance(m, Dropout)]
        # the dropout layers first, then the regularisers' mask sources, so that adding a
        # regulariser does not change the masks of the dropout layers
        dropouts = [m for m in dropouts if not m.mask_source] + [m for m in dropouts if m.mask_source]
        for k, m in enumerate(dropouts):
            m.seed(seed * 1000 + k, step)

    def to_device_ids(self, ids) -> Array:
        """Validate token ids (on the host when they are there) and move them to the model."""
        if not hasattr(ids, "dtype"):
            ids = np.asarray(ids)
        validate_token_ids(ids, self.vocab_size)
        return to_device(ids, self.device)

    def loss(self, logits: Array, targets: Array) -> tuple[Array, Array]:
        """Mean cross-entropy of ``logits (T, B, V)`` against ``targets (T, B)`` and its gradient,
        with this model's track (see ``functional``): ``loss, dlogits = model.loss(...)``."""
        return self.F.softmax_cross_entropy(logits, targets)

    def evaluation_loss(self, logits: Array, targets: Array) -> Array:
        """Mean cross-entropy alone, without its gradient (what :func:`evaluate` adds up): the
        speed track's :func:`~scratchlstm.nn.fast.cross_entropy`, or the loss of this model's
        ``softmax_cross_entropy`` on another track. A 0-d array on the model's device."""
        if self.F is fast:
            return fast.cross_entropy(logits, targets)
        return self.F.softmax_cross_entropy(logits, targets)[0]

    def describe(self) -> str:
        """One line for people: the kind and shape of the model (a subclass says more)."""
        return type(self).__name__

    #: Whether :meth:`activation_snapshot` has LSTM units to show.
    has_units = False

    def activation_snapshot(self) -> dict | None:
        """What the units computed at the last position of the last forward pass (batch row 0),
        or None for a model without LSTM units (see :meth:`LSTMLanguageModel.activation_snapshot`)."""
        return None

    def forward_and_snapshot(self, ids: Array, state: tuple | None = None) -> tuple[Array, tuple, dict | None]:
        """``forward`` followed by :meth:`activation_snapshot`: ``(logits, state, snapshot)``."""
        logits, state = self(ids, state)
        return logits, state, self.activation_snapshot()


class LSTMLanguageModel(LanguageModel):
    """A word/char/subword-level LSTM language model, written by hand end to end.

    Parameters
    ----------
    vocab_size : int, V
    embed_dim : int, E
    hidden_dim : int, H
    num_layers : int
    dropout : float, applied to the embeddings, between LSTM layers and to the top LSTM output
        (the recipe of Zaremba et al. 2014 and PyTorch's word_language_model)
    tie_weights : bool, share the embedding matrix with the decoder (needs ``embed_dim ==
        hidden_dim``); the shared parameter receives the sum of both gradients
    dtype : "float32" (training) or "float64" (gradient checks)
    seed : int, seeds the host generator of the initial weights *and* the dropout masks
    init : "default" (embedding and decoder U(-0.1, 0.1), LSTM U(-1/sqrt(H), 1/sqrt(H)), as
        PyTorch's word_language_model) or "uniform" (every weight U(-init_range, init_range), as
        Zaremba et al.)
    init_range : float, the bound for ``init="uniform"``
    forget_bias : float, initial forget-gate bias
    locked_dropout : bool, one dropout mask per sequence reused at every time step
    device : "cpu", "cuda", "auto" or None: None reads ``$SCRATCHLSTM_DEVICE`` (default "cpu");
        the weights are drawn on the host and then moved there
    cell : "lstm" (default), "gru" or "rnn": the same model with another recurrent cell, for
        comparisons. Its state is ``(h, c)`` for the LSTM and ``(h,)`` for the others; the
        attribute is still called ``lstm``.
    functional : which forward/backward pairs the layers run: None or "fast" (the speed track,
        :mod:`scratchlstm.nn.fast`), "reading" (the plain reading track,
        :mod:`scratchlstm.nn.functional`), or the folder of a workbook written with
        ``python -m scratchlstm workbook new DIR``: then the model trains and samples with *your*
        functions. The weights, and so checkpoints, do not depend on it.

    AWD-LSTM's regularisers (Merity et al. 2017; :mod:`scratchlstm.nn.regularisers`), all off by
    default:

    input_dropout, hidden_dropout : float or None, the dropout on the embeddings and between LSTM
        layers when it should differ from ``dropout`` (which then applies to the output only)
    embedding_dropout : float, drop whole words of the embedding matrix
    weight_drop : float, DropConnect on every layer's recurrent weights
    ar_alpha, tar_beta : float, activation and temporal activation regularisation of the last
        layer's output; their gradients join the backward pass, and their value from the last
        forward is :meth:`regularisation_loss` (not part of :meth:`loss`, which stays the
        cross-entropy that perplexity is made of)
    """

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int, num_layers: int = 1,
                 dropout: float = 0.0, tie_weights: bool = False, dtype="float32", seed: int = 0,
                 init: str = "default", init_range: float = 0.1, forget_bias: float = 0.0,
                 locked_dropout: bool = False, device: str | None = None, cell: str = "lstm",
                 functional=None, input_dropout: float | None = None,
                 hidden_dropout: float | None = None, embedding_dropout: float = 0.0,
                 weight_drop: float = 0.0, ar_alpha: float = 0.0, tar_beta: float = 0.0):
        for name, value in (("vocab_size", vocab_size), ("embed_dim", embed_dim),
                            ("hidden_dim", hidden_dim), ("num_layers", num_layers)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"LSTMLanguageModel: {name} must be a positive integer, got {value!r}")
        if tie_weights and embed_dim != hidden_dim:
            raise ValueError(f"tie_weights=True needs embed_dim == hidden_dim (the decoder reuses the "
                             f"embedding matrix), got embed_dim={embed_dim}, hidden_dim={hidden_dim}")
        if cell not in ("lstm", "gru", "rnn"):
            raise ValueError(f"cell must be 'lstm', 'gru' or 'rnn', got {cell!r}")
        if init not in ("default", "uniform"):
            raise ValueError(f"init must be 'default' or 'uniform', got {init!r}")
        # NaN fails every comparison, so each range is written as "inside", never "not outside"
        for name, value in (("dropout", dropout), ("input_dropout", input_dropout),
                            ("hidden_dropout", hidden_dropout), ("embedding_dropout", embedding_dropout),
                            ("weight_drop", weight_drop)):
            if value is not None and not (_is_real(value) and 0.0 <= value < 1.0):
                raise ValueError(f"LSTMLanguageModel: {name} must be a probability in [0, 1), got {value!r}")
        for name, value in (("ar_alpha", ar_alpha), ("tar_beta", tar_beta)):
            if not (_is_real(value) and 0.0 <= value < math.inf):
                raise ValueError(f"LSTMLanguageModel: {name} must be a finite number >= 0, got {value!r}")
        if cell != "lstm" and weight_drop:
            raise ValueError(f"weight_drop works on the LSTM's recurrent weights, not on cell={cell!r}")
        if not (_is_real(init_range) and 0.0 < init_range < math.inf):
            raise ValueError(f"LSTMLanguageModel: init_range must be a finite number > 0, got {init_range!r}")
        if not (_is_real(forget_bias) and math.isfinite(forget_bias)):
            raise ValueError(f"LSTMLanguageModel: forget_bias must be a finite number, got {forget_bias!r}")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"LSTMLanguageModel: seed must be an integer >= 0, got {seed!r}")
        self.config = dict(vocab_size=int(vocab_size), embed_dim=int(embed_dim),
                           hidden_dim=int(hidden_dim), num_layers=int(num_layers),
                           dropout=float(dropout), tie_weights=bool(tie_weights),
                           dtype=str(resolve_dtype(dtype)), seed=int(seed), init=init,
                           init_range=float(init_range), forget_bias=float(forget_bias),
                           locked_dropout=bool(locked_dropout), cell=cell,
                           input_dropout=None if input_dropout is None else float(input_dropout),
                           hidden_dropout=None if hidden_dropout is None else float(hidden_dropout),
                           embedding_dropout=float(embedding_dropout), weight_drop=float(weight_drop),
                           ar_alpha=float(ar_alpha), tar_beta=float(tar_beta))
        p_in = dropout if input_dropout is None else input_dropout
        p_hidden = dropout if hidden_dropout is None else hidden_dropout
        rng = np.random.default_rng(seed)
        uniform = init == "uniform"
        self.F = F = resolve_functional(functional)
        self.embedding = Embedding(vocab_size, embed_dim, rng, dtype,
                                   init_range=init_range if uniform else 0.1, functional=F,
                                   word_dropout=embedding_dropout)
        self.drop_in = Dropout(p_in, locked=locked_dropout, functional=F)
        if cell == "lstm":
            self.lstm = LSTM(embed_dim, hidden_dim, num_layers, p_hidden, rng, dtype,
                             init_range=init_range if uniform else None, forget_bias=forget_bias,
                             locked_dropout=locked_dropout, functional=F, weight_drop=weight_drop)
        else:
            self.lstm = RecurrentStack(cell, embed_dim, hidden_dim, num_layers, p_hidden, rng, dtype,
                                       init_range=init_range if uniform else None,
                                       locked_dropout=locked_dropout, functional=F)
        self.drop_out = Dropout(dropout, locked=locked_dropout, functional=F)
        self.decoder = Linear(hidden_dim, vocab_size, rng, dtype,
                              init_range=init_range if uniform else 0.1,
                              tied_weight=self.embedding.weight if tie_weights else None,
                              functional=F)
        self.seed_dropout(seed)
        target = resolve_device(device)            # None: $SCRATCHLSTM_DEVICE, else "cpu"
        if target != "cpu":
            self.to(target)

    def init_state(self, batch_size: int) -> tuple:
        """Zero hidden state ``(h, c)``, each ``(num_layers, B, H)`` (``(h,)`` for GRU/RNN)."""
        return self.lstm.init_state(batch_size)

    def forward(self, ids: Array, state: tuple | None = None) -> tuple[Array, tuple]:
        """Logits for the next token at every position.

        Parameters
        ----------
        ids : (T, B) int, token ids (NumPy or CuPy; moved to the model's device)
        state : ((L, B, H), (L, B, H)) or None, the initial (h, c); None means zeros
            (a 1-tuple ``(h,)`` for the GRU and RNN cells)

        Returns
        -------
        logits : (T, B, V) float
        state : ((L, B, H), (L, B, H)), the final (h, c), to carry into the next window
        """
        if getattr(ids, "ndim", None) != 2:
            raise ValueError(f"ids must have shape (T, B) (time-major), got shape "
                             f"{getattr(ids, 'shape', None)}")
        ids = self.to_device_ids(ids)
        if state is not None:
            state = tuple(to_device(s, self.device) for s in state)
        x = self.drop_in(self.embedding(ids))
        hs, state = self.lstm(x, state)
        dropped = self.drop_out(hs)
        # AR and TAR act on the last layer's outputs; keep them for backward (training only)
        regularised = self.training and (self.config["ar_alpha"] or self.config["tar_beta"])
        self._outputs = (hs, dropped) if regularised else None
        logits = self.decoder(dropped)
        return logits, state

    def batch_one_stepper(self, state: tuple | None = None):
        """A :class:`~scratchlstm.nn.fast.BatchOneLSTM` over this model's current weights, for
        generating at batch 1 (``stepper.step(token)`` -> logits (V,)); None where it does not
        apply (a GRU or RNN cell, or a track other than the speed track), and the caller then
        uses ``forward``.

        Parameters
        ----------
        state : ((L, 1, H), (L, 1, H)) or None, where to start (None: zeros)
        """
        if self.config["cell"] != "lstm" or self.F is not fast:
            return None
        if state is None:
            state = self.init_state(1)
        h0, c0 = (to_device(s, self.device) for s in state)
        layers = [(layer.Wx.data, layer.Wh.data, layer.b.data) for layer in self.lstm.layers]
        return fast.BatchOneLSTM(self.embedding.weight.data, layers, self.decoder.W,
                                 self.decoder.bias.data, h0, c0)

    @property
    def has_units(self) -> bool:
        """True for the LSTM cell (its gates, cell and hidden states can be read after a forward)."""
        return self.config["cell"] == "lstm"

    def activation_snapshot(self, digits: int = 4) -> dict | None:
        """The LSTM's units at the last position of the last forward pass, batch row 0, on the host.

        What the web playground colours text by: after each generated token is fed in, the
        hidden and cell state of every unit and the mean of every gate over the units (how open
        the gate is at that token, on average).

        Returns
        -------
        dict or None (GRU and RNN cells): ``"h"``, ``"c"``: lists of L lists of H floats (one
        per layer); ``"i"``, ``"f"``, ``"g"``, ``"o"``: lists of L floats (the gate's mean over
        the H units). Rounded to ``digits`` decimals (float32 holds about 7 significant digits).
        """
        if not self.has_units:
            return None
        out = {name: [] for name in "hcifgo"}
        for layer in self.lstm.layers:
            acts = layer.activations()
            for name in "hc":
                out[name].append(np.round(to_host(acts[name][-1, 0]).astype(np.float64), digits).tolist())
            for name in "ifgo":
                out[name].append(round(float(to_host(acts[name][-1, 0]).mean()), digits))
        return out

    def describe(self) -> str:
        """E.g. ``2-layer LSTM, 256 units, embedding 256, tied``."""
        c = self.config
        return (f"{c['num_layers']}-layer {c['cell'].upper()}, {c['hidden_dim']} units, embedding "
                f"{c['embed_dim']}" + (", tied" if c["tie_weights"] else ""))

    def regularisation_loss(self) -> float:
        """AR + TAR of the last forward pass (0 outside training or without them): what the
        backward pass adds the gradient of, on top of the cross-entropy's."""
        if getattr(self, "_outputs", None) is None:
            return 0.0
        hs, dropped = self._outputs
        c = self.config
        return (float(activation_regularisation(dropped, c["ar_alpha"])[0]) +
                float(temporal_activation_regularisation(hs, c["tar_beta"])[0]))

    def backward(self, dlogits: Array) -> None:
        """Backpropagate ``dloss/dlogits (T, B, V)`` and accumulate into every ``Parameter.grad``.

        Gradients add up (``+=``) until :meth:`zero_grad`; with tied weights the embedding matrix
        receives the decoder's gradient plus the embedding's.
        """
        ddropped = self.decoder.backward(dlogits)
        outputs, c = getattr(self, "_outputs", None), self.config
        if outputs is not None and c["ar_alpha"]:
            ddropped = ddropped + activation_regularisation(outputs[1], c["ar_alpha"])[1]
        dhs = self.drop_out.backward(ddropped)
        if outputs is not None and c["tar_beta"]:
            dhs = dhs + temporal_activation_regularisation(outputs[0], c["tar_beta"])[1]
        dx, _ = self.lstm.backward(dhs)
        self.embedding.backward(self.drop_in.backward(dx))

    def __repr__(self) -> str:
        c = self.config
        cell = "" if c["cell"] == "lstm" else f", cell={c['cell']}"
        track = "" if self.F is fast else f", functional={track_name(self.F)}"
        return (f"LSTMLanguageModel(vocab={c['vocab_size']}, embed={c['embed_dim']}, "
                f"hidden={c['hidden_dim']}, layers={c['num_layers']}, dropout={c['dropout']}, "
                f"tied={c['tie_weights']}{cell}{track}, params={self.num_parameters():,}, device={self.device}, "
                f"dtype={self.dtype})")
