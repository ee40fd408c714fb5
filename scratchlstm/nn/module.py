"""``Parameter`` and ``Module``: the thin shell that owns arrays around the functional core.

A :class:`Module` finds its parameters and sub-modules by looking at its attributes (a
:class:`Parameter`, a :class:`Module`, or a list of modules), in the order they were assigned, so
``named_parameters()`` gives stable dotted names such as ``"lstm.layers.0.Wx"``. There is no
autograd: each module's ``backward`` is written by hand and *accumulates* into ``Parameter.grad``
(``+=``) until :meth:`Module.zero_grad` is called. A parameter shared by two modules (tied
weights) therefore receives the sum of both gradients, which is exactly its true gradient.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..backend import get_array_module, resolve_device, resolve_dtype, to_device, to_host, device_of, np


class Parameter:
    """A trainable array and its gradient.

    Attributes
    ----------
    data : array, the value (NumPy or CuPy)
    grad : array of the same shape, dtype and device; accumulated by ``backward`` passes

    ``zero_grad()`` only marks the gradient as zero; the first :meth:`accumulate` after it then
    *takes* the new gradient instead of adding it to a buffer of zeros. For a 10,000 x 650 decoder
    that saves two passes over 26 MB per step; reading ``grad`` in between still gives zeros.
    """

    def __init__(self, data):
        self.data = data
        self._grad = get_array_module(data).zeros_like(data)
        self._grad_is_stale = False       # True: _grad holds old values that count as zero

    @property
    def grad(self):
        if self._grad_is_stale:
            self._grad.fill(0)
            self._grad_is_stale = False
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value
        self._grad_is_stale = False

    def accumulate(self, g) -> None:
        """``grad += g`` (``g`` must have the parameter's shape)."""
        if not self._grad_is_stale:
            self._grad += g
            return
        self._grad_is_stale = False
        if (g.base is None and g.flags.c_contiguous and g.dtype == self.data.dtype
                and g.shape == self.data.shape and device_of(g) == device_of(self.data)):
            self._grad = g                # a fresh array nobody else holds: adopt it
        else:
            self._grad[...] = g

    @property
    def shape(self):
        return self.data.shape

    @property
    def size(self) -> int:
        return int(self.data.size)

    def zero_grad(self) -> None:
        self._grad_is_stale = True

    def to(self, device: str | None = None, dtype=None) -> "Parameter":
        """Move/cast in place (keeps object identity, so tied modules stay tied)."""
        self.data = to_device(self.data, device or device_of(self.data), dtype)
        self.grad = to_device(self.grad, device or device_of(self.grad), dtype)
        return self

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype}, device={device_of(self.data)})"


class Module:
    """Base class: parameter discovery, train/eval mode, state dicts and device moves."""

    training: bool = True
    #: False inside :meth:`inference`: a layer may then skip what only ``backward`` needs
    keep_cache: bool = True

    def __call__(self, *args, **kwargs):
        """``module(x)`` runs ``module.forward(x)``: defined here once, so that a subclass that
        overrides ``forward`` is always the one called."""
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - every layer defines its own
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    # -- discovery ---------------------------------------------------------------------------
    def _children(self) -> Iterator[tuple[str, object]]:
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Module) for v in value):
                for k, sub in enumerate(value):
                    yield f"{name}.{k}", sub

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, Parameter)``; a parameter shared by two modules is yielded once."""
        seen: set[int] = set()
        for name, p in self._named_parameters_all(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def _named_parameters_all(self, prefix: str):
        for name, child in self._children():
            full = f"{prefix}{name}"
            if isinstance(child, Parameter):
                yield full, child
            else:
                yield from child._named_parameters_all(full + ".")

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def modules(self) -> Iterator["Module"]:
        yield self
        for _, child in self._children():
            if isinstance(child, Module):
                yield from child.modules()

    def num_parameters(self) -> int:
        """Number of trainable scalars (shared parameters counted once)."""
        return sum(p.size for p in self.parameters())

    # -- modes and gradients -----------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout active). Returns self."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> "Module":
        """Evaluation mode (dropout off). Returns self."""
        return self.train(False)

    @contextmanager
    def inference(self):
        """Forward passes with no backward to follow: ``with model.inference(): model(ids)``.

        Evaluation mode, and layers skip what only ``backward`` needs (the LSTM keeps no gate or
        cell history, see :func:`scratchlstm.nn.fast.lstm_inference`). ``evaluate`` and
        generation run in it. On exit every module gets back its mode; ``backward`` and
        ``activations()`` need a forward pass outside it.
        """
        saved = [(m, m.training, m.keep_cache) for m in self.modules()]
        for m, _, _ in saved:
            m.training, m.keep_cache = False, False
        try:
            yield self
        finally:
            for m, training, keep_cache in saved:
                m.training, m.keep_cache = training, keep_cache

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    # -- device and dtype --------------------------------------------------------------------
    def _first_parameter(self) -> Parameter | None:
        """The first parameter of the tree, or None. Stops at the first one: ``device``, ``dtype``
        and ``xp`` are read on every forward call, and listing all parameters there cost about
        0.7 ms per generated token."""
        return next((p for _, p in self._named_parameters_all("")), None)

    @property
    def device(self) -> str:
        first = self._first_parameter()
        return device_of(first.data) if first is not None else "cpu"

    @property
    def dtype(self):
        first = self._first_parameter()
        return first.data.dtype if first is not None else np.dtype(np.float32)

    @property
    def xp(self):
        """The array module of this module's parameters (``numpy`` or ``cupy``)."""
        first = self._first_parameter()
        return get_array_module(first.data) if first is not None else np

    def to(self, device: str | None = None, dtype=None) -> "Module":
        """Move every parameter to ``device`` and/or cast it to ``dtype``, in place; returns self.

        ``model.to("cuda")`` moves a model to the GPU; ``model.to(dtype="float64")`` prepares it
        for a gradient check.
        """
        target = resolve_device(device) if device is not None else None
        dt = resolve_dtype(dtype) if dtype is not None else None
        for p in self.parameters():
            p.to(target, dt)
        for m in self.modules():
            m._on_move()
        return self

    def _on_move(self) -> None:
        """Hook for modules that keep per-device state (e.g. a dropout random generator)."""

    # -- state dicts -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{name: NumPy array}``: host copies of every parameter."""
        return {name: to_host(p.data).copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict, strict: bool = True) -> None:
        """Copy arrays into the parameters (on their current device, in their current dtype).

        Raises
        ------
        KeyError
            ``strict`` and a parameter is missing from ``state`` or ``state`` has unknown keys.
        ValueError
            An array's shape differs from the parameter's.
        """
        own = dict(self.named_parameters())
        if strict:
            missing = sorted(set(own) - set(state))
            unexpected = sorted(set(state) - set(own))
            if missing or unexpected:
                raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                               f"{unexpected}. Is this state from a model with the same architecture?")
        for name, p in own.items():
            if name not in state:
                continue
            value = state[name]
            if tuple(value.shape) != tuple(p.data.shape):
                raise ValueError(f"load_state_dict: parameter {name!r} has shape {p.data.shape} "
                                 f"in this model but {tuple(value.shape)} in the state dict")
            p.data[...] = to_device(value, device_of(p.data), p.data.dtype)
