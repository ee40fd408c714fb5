r"""Optimizers, gradient clipping, learning-rate schedules and early stopping.

Two tracks, as for the layers. :func:`sgd_step`, :func:`adam_step` and :func:`clip_grad_norm` are
the update rules written to be read (and rebuilt in the workbook). The optimizer classes
:class:`SGD`, :class:`Adam` and :class:`AdamW` apply the same rules to a model's parameters,
arranged for speed, and the test suite proves them equal. Their updates are written in place
(``p.data -= ...`` with ``out=`` buffers) because on a CPU the optimizer step over millions of
parameters is limited by memory traffic: every temporary array is one more pass over memory.

Adam (Kingma & Ba 2015), with :math:`g` the gradient at step :math:`t`:

.. math::
    m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
    \theta &\leftarrow \theta - \eta \, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

AdamW (Loshchilov & Hutter 2019) decays the weights directly, :math:`\theta \leftarrow \theta(1 -
\eta\lambda)`, instead of adding :math:`\lambda\theta` to the gradient as Adam's L2 penalty does.
"""
from __future__ import annotations

import math
import numbers
from contextlib import contextmanager

from .backend import Array, get_array_module, to_device, to_host, device_of


# ----------------------------------------------------------------------------------------------
# The update rules, written to be read
# ----------------------------------------------------------------------------------------------
def sgd_step(param, grad, velocity, lr: float, momentum: float = 0.0) -> None:
    r"""One step of SGD with momentum, in place (PyTorch's convention).

    .. math::  v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta v

    With ``momentum = 0`` the velocity is just the gradient and this is plain SGD.

    Parameters
    ----------
    param : (...) float array, updated in place
    grad : array of the same shape, the gradient
    velocity : array of the same shape, the running velocity (zeros before the first step),
        updated in place
    lr : float, the learning rate :math:`\eta`
    momentum : float in [0, 1), :math:`\mu`
    """
    velocity *= momentum
    velocity += grad
    param -= lr * velocity


def adam_step(param, grad, m, v, t: int, lr: float, beta1: float = 0.9, beta2: float = 0.999,
              eps: float = 1e-8) -> None:
    r"""One Adam step, in place (Kingma & Ba 2015).

    .. math::
        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
        \hat m &= m / (1 - \beta_1^t), \qquad \hat v = v / (1 - \beta_2^t), \qquad
        \theta \leftarrow \theta - \eta \, \hat m / (\sqrt{\hat v} + \epsilon)

    The moments start at zero, so early on they are biased towards zero; dividing by
    :math:`1 - \beta^t` removes that bias (at t = 1, :math:`\hat m = g` exactly).

    Parameters
    ----------
    param : (...) float array, updated in place
    grad : array of the same shape
    m, v : arrays of the same shape, the first and second moments (zeros before step 1), updated
        in place
    t : int >= 1, the number of this step
    lr : float; beta1, beta2 : floats in [0, 1); eps : float
    """
    xp = get_array_module(param)
    m *= beta1
    m += (1.0 - beta1) * grad
    v *= beta2
    v += (1.0 - beta2) * grad * grad
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = v / (1.0 - beta2 ** t)
    param -= lr * m_hat / (xp.sqrt(v_hat) + eps)


def _check_setting(name: str, value) -> None:
    """A finite number >= 0: NaN passes every "< 0" test (all comparisons with NaN are False), and
    one NaN update turns every weight into NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")


def _as_parameter_list(params):
    params = list(params.parameters() if hasattr(params, "parameters") else params)
    if not params:
        raise ValueError("optimizer got an empty parameter list")
    return params


class Optimizer:
    """Base class: holds the parameters, the learning rate and per-parameter state arrays."""

    #: names of the per-parameter state arrays (saved in :meth:`state_dict`)
    state_names: tuple[str, ...] = ()

    def __init__(self, params, lr: float):
        _check_setting("the learning rate lr", lr)
        self.params = _as_parameter_list(params)
        self.lr = float(lr)
        self.step_count = 0
        self.state = {name: [None] * len(self.params) for name in self.state_names}

    def zero_grad(self) -> None:
        for p in self.params:
            p.zero_grad()

    def _buffer(self, name: str, k: int):
        """The state array ``name`` of parameter ``k``, created as zeros on first use."""
        buf = self.state[name][k]
        p = self.params[k]
        if buf is None or buf.shape != p.data.shape or device_of(buf) != device_of(p.data):
            buf = get_array_module(p.data).zeros_like(p.data)
            self.state[name][k] = buf
        return buf

    def step(self) -> None:
        self.step_count += 1
        for k, p in enumerate(self.params):
            self._update(k, p)

    def _update(self, k, p) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        return {"lr": self.lr}

    # -- hooks the Trainer calls for every optimizer (most do nothing) -------------------------
    def epoch_end(self, valid_loss: float) -> bool:
        """Told each epoch's validation loss; returns True when that changed how it trains
        (see :class:`NTASGD`). Most optimizers ignore it."""
        return False

    @contextmanager
    def averaged(self):
        """A block in which the parameters hold the weights to evaluate and keep: the current
        ones, except for an averaging optimizer (see :class:`NTASGD`)."""
        yield

    def state_dict(self) -> dict:
        """Everything needed to resume: hyperparameters, step count and host copies of the state."""
        return {
            "type": type(self).__name__,
            "hyperparameters": self.hyperparameters(),
            "step_count": self.step_count,
            "state": {name: [None if a is None else to_host(a).copy() for a in arrays]
                      for name, arrays in self.state.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("type") != type(self).__name__:
            raise ValueError(f"optimizer state is for {state.get('type')!r}, not {type(self).__name__!r}")
        for key, value in state["hyperparameters"].items():
            setattr(self, key, tuple(value) if isinstance(value, list) else value)
        self.step_count = int(state["step_count"])
        for name, arrays in state["state"].items():
            if len(arrays) != len(self.params):
                raise ValueError(f"optimizer state has {len(arrays)} entries for {name!r}, but the "
                                 f"optimizer has {len(self.params)} parameters")
            for k, a in enumerate(arrays):
                p = self.params[k]
                if a is not None and tuple(a.shape) != tuple(p.data.shape):
                    raise ValueError(f"optimizer state {name!r}[{k}] has shape {tuple(a.shape)}, "
                                     f"parameter has {p.data.shape}")
                self.state[name][k] = None if a is None else to_device(a, device_of(p.data), p.data.dtype)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay.

    ``v <- momentum * v + (g + weight_decay * p)``; ``p <- p - lr * v`` (PyTorch's convention).
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params, lr: float = 0.1, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        super().__init__(params, lr)
        _check_setting("momentum", momentum)
        _check_setting("weight_decay", weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum, self.weight_decay, self.nesterov = momentum, weight_decay, nesterov

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "nesterov": self.nesterov}

    def _update(self, k, p) -> None:
        g = p.grad
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum:
            v = self._buffer("momentum_buffer", k)
            v *= self.momentum
            v += g
            g = g + self.momentum * v if self.nesterov else v
        p.data -= self.lr * g


class NTASGD(SGD):
    r"""Non-monotonically triggered averaged SGD (Merity et al. 2017, AWD-LSTM).

    Plain SGD until the validation loss stops improving: when the loss of an epoch is worse than
    the best of the losses from more than ``nonmono`` epochs before it, averaging switches on for
    good. From then on the optimiser keeps the running mean of the iterates since the switch,

    .. math:: \bar\theta_n = \bar\theta_{n-1} + (\theta_n - \bar\theta_{n-1}) / n,

    and the averaged weights are the ones to evaluate and keep (:meth:`averaged`): an average over
    many SGD steps sits nearer the bottom of the valley than any single noisy step. The switch is
    "non-monotone" because one bad epoch is not enough; the loss must fail to beat an old best.

    A short run may end before the loss ever stalls, and a constant-rate SGD iterate is a noisy
    place to stop. ``average_after`` switches averaging on after that epoch at the latest, so the
    last epochs of a fixed budget are averaged whatever the trigger says (classic ASGD with a
    fixed start, as a backstop for the non-monotone rule).

    Call :meth:`epoch_end` with each epoch's validation loss (the Trainer does). The averaging
    flag, the count and the loss history are hyperparameters and the average a state array, so a
    checkpoint resumes exactly.

    Parameters
    ----------
    params, lr, weight_decay : as for :class:`SGD` (no momentum: the average is the momentum)
    nonmono : int >= 1, how many recent epochs a new loss is not compared with
    average_after : int >= 1 or None, switch averaging on after this many epochs at the latest
    """

    state_names = ("momentum_buffer", "average")

    def __init__(self, params, lr: float = 30.0, weight_decay: float = 0.0, nonmono: int = 5,
                 average_after: int | None = None):
        super().__init__(params, lr, momentum=0.0, weight_decay=weight_decay)
        if isinstance(nonmono, bool) or not isinstance(nonmono, int) or nonmono < 1:
            raise ValueError(f"nonmono must be an integer >= 1, got {nonmono!r}")
        if average_after is not None and (isinstance(average_after, bool)
                                          or not isinstance(average_after, int) or average_after < 1):
            raise ValueError(f"average_after must be an integer >= 1 or None, got {average_after!r}")
        self.nonmono = nonmono
        self.average_after = average_after
        self.averaging = False
        self.n_averaged = 0
        self.valid_losses: list[float] = []
        self.switched_at_epoch: int | None = None
        self.switch_reason: str | None = None        # why averaging started, for the log

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "nonmono": self.nonmono,
                "average_after": self.average_after, "averaging": self.averaging,
                "n_averaged": self.n_averaged, "valid_losses": list(self.valid_losses),
                "switched_at_epoch": self.switched_at_epoch, "switch_reason": self.switch_reason}

    def step(self) -> None:
        super().step()
        if self.averaging:
            self.n_averaged += 1
            for k, p in enumerate(self.params):
                avg = self._buffer("average", k)
                if self.n_averaged == 1:
                    avg[...] = p.data                     # the first iterate after the switch
                else:
                    avg += (p.data - avg) / self.n_averaged

    def epoch_end(self, valid_loss: float) -> bool:
        """Record an epoch's validation loss; switch averaging on when it is triggered.

        Returns
        -------
        bool : True on the epoch that switched averaging on
        """
        losses = self.valid_losses
        stalled = len(losses) > self.nonmono and valid_loss > min(losses[:-self.nonmono])
        losses.append(float(valid_loss))
        out_of_time = self.average_after is not None and len(losses) >= self.average_after
        triggered = not self.averaging and (stalled or out_of_time)
        if triggered:
            self.switch_reason = ("validation stopped improving" if stalled
                                  else f"the run reached average_after={self.average_after} epochs")
            self.averaging = True
            self.switched_at_epoch = len(losses)
        return triggered

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.valid_losses = list(self.valid_losses)     # a list again, to append to

    @contextmanager
    def averaged(self):
        """Within the block the parameters hold the averaged weights (when averaging is on);
        afterwards the current iterate is back, and training goes on from it.

        >>> with optimizer.averaged():
        ...     valid_loss = evaluate(model, ids["valid"])
        """
        if not (self.averaging and self.n_averaged):
            yield
            return
        saved = [p.data.copy() for p in self.params]
        try:
            for k, p in enumerate(self.params):
                p.data[...] = self.state["average"][k]
            yield
        finally:
            for p, value in zip(self.params, saved):
                p.data[...] = value


#: Elements per piece of an optimizer update on the CPU: 256 KiB of float32 per array, so the
#: four arrays of an Adam piece and its work array fit in a core's L2 cache.
CPU_PIECE_SIZE = 1 << 16


def _cache_sized_pieces(*arrays):
    """Cut same-shaped arrays into matching pieces that stay in the CPU cache while updated.

    Adam makes about twelve elementwise passes over each parameter. Over a whole 6.5M-element
    weight matrix every pass streams it from main memory again; over 64K-element pieces only the
    first pass does, and the other passes hit the cache (20M float32 parameters on one core:
    55 -> 37 ms per step). A GPU streams whole arrays faster than it launches many small kernels,
    so there, as for arrays that are not contiguous, each array is one piece.

    Returns
    -------
    list of tuples, one tuple of same-shaped views (one per input array) for each piece
    """
    if device_of(arrays[0]) != "cpu" or not all(a.flags.c_contiguous for a in arrays):
        return [arrays]
    flat = [a.reshape(-1) for a in arrays]       # views: the arrays are contiguous
    n = flat[0].size
    return [tuple(f[start:start + CPU_PIECE_SIZE] for f in flat)
            for start in range(0, n, CPU_PIECE_SIZE)] or [tuple(flat)]


class Adam(Optimizer):
    """Adam with bias correction; ``weight_decay`` here is the classic L2 penalty added to g."""

    state_names = ("exp_avg", "exp_avg_sq")

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr)
        _check_setting("weight_decay", weight_decay)
        _check_setting("eps", eps)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"betas must be in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = tuple(betas), eps, weight_decay
        self._scratch: list = [None] * len(self.params)

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "betas": list(self.betas), "eps": self.eps,
                "weight_decay": self.weight_decay}

    def _update(self, k, p) -> None:
        m = self._buffer("exp_avg", k)
        v = self._buffer("exp_avg_sq", k)
        # The bias corrections folded into two scalars:
        # lr (m / bias1) / (sqrt(v / bias2) + eps) = step_size m / (sqrt(v) + eps_hat)
        t = self.step_count
        bias1 = 1.0 - self.betas[0] ** t
        bias2 = 1.0 - self.betas[1] ** t
        step_size = self.lr * math.sqrt(bias2) / bias1
        eps_hat = self.eps * math.sqrt(bias2)
        pieces = _cache_sized_pieces(p.data, p.grad, m, v)
        work = self._work_arrays(k, p.data, pieces[0][0].size)
        for p_piece, g_piece, m_piece, v_piece in pieces:
            n, shape = p_piece.size, p_piece.shape
            tmp, g_buf = work[0, :n].reshape(shape), work[1, :n].reshape(shape)
            g = self._gradient(p_piece, g_piece, g_buf)
            self._moments_and_step(p_piece, g, m_piece, v_piece, tmp, step_size, eps_hat)

    def _work_arrays(self, k, data, size: int):
        """Two reusable work arrays of ``size`` elements for parameter ``k``, shape (2, size)."""
        work = self._scratch[k]
        if (work is None or work.shape[1] < size or work.dtype != data.dtype
                or device_of(work) != device_of(data)):
            work = self._scratch[k] = get_array_module(data).empty((2, size), dtype=data.dtype)
        return work

    def _gradient(self, p, g, g_buf):
        """Adam: the L2 penalty joins the gradient, ``g + wd p``, written into ``g_buf`` so that
        ``p.grad`` stays intact for whoever reads it after the step."""
        if not self.weight_decay:
            return g
        get_array_module(p).multiply(p, self.weight_decay, out=g_buf)
        g_buf += g
        return g_buf

    def _moments_and_step(self, p, g, m, v, tmp, step_size: float, eps_hat: float) -> None:
        """The Adam update of one piece, in place: the moments m and v, then the parameter p."""
        xp = get_array_module(p)
        beta1, beta2 = self.betas
        # m = b1 m + (1 - b1) g ;  v = b2 v + (1 - b2) g^2
        m *= beta1
        xp.multiply(g, 1.0 - beta1, out=tmp)
        m += tmp
        v *= beta2
        xp.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v += tmp
        # p -= step_size m / (sqrt(v) + eps_hat)
        xp.sqrt(v, out=tmp)
        tmp += eps_hat
        xp.divide(m, tmp, out=tmp)
        tmp *= step_size
        p -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p <- p (1 - lr * weight_decay)`` before the Adam step."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def _gradient(self, p, g, g_buf):
        """AdamW: shrink the weights directly; the gradient is used as it is."""
        if self.weight_decay:
            p *= 1.0 - self.lr * self.weight_decay
        return g


def grad_norm(params, sync: bool = True) -> float | Array:
    """Global L2 norm of all gradients: ``sqrt(sum_p ||grad_p||^2)``.

    Parameters
    ----------
    params : iterable of Parameter
    sync : bool. True: return a Python float (on a GPU this waits for the device and copies the
        number back). False: on a GPU, return a 0-d device array and do not wait; on the CPU the
        result is a float either way, since reading host memory costs nothing.
    """
    params = _as_parameter_list(params)
    xp = get_array_module(params[0].grad)
    total = 0.0
    for p in params:
        g = p.grad.reshape(-1)
        total = total + xp.dot(g, g)     # stays on the device
    if sync or device_of(params[0].grad) == "cpu":
        return float(math.sqrt(float(total)))
    return xp.sqrt(total)


def clip_grad_norm(params, max_norm: float, sync: bool = True) -> float | Array:
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    Clipping by the *global* norm keeps the direction of the whole update and only shortens it
    (Pascanu et al. 2013). Call it after every ``backward`` (tied weights already hold their
    summed gradient) and before ``optimizer.step()``.

    On a GPU the decision is made on the device, ``scale = max_norm / norm`` when ``norm >
    max_norm`` (and finite) else 1, and every gradient is multiplied by it, so clipping never waits
    for the device; with ``sync=False`` nothing here does.

    Parameters
    ----------
    params : list of Parameter (anything with a ``.grad`` array), or a Module; the gradients
        are scaled in place
    max_norm : float > 0
    sync : bool, as for :func:`grad_norm`: False returns the norm as a 0-d device array on a GPU

    Returns
    -------
    float (or a 0-d device array, see ``sync``): the norm *before* clipping (useful to log;
    inf/nan signals a diverged step, and then the gradients are left as they are)
    """
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, got {max_norm}")
    params = _as_parameter_list(params)
    total = grad_norm(params, sync=False)
    if device_of(params[0].grad) == "cpu":
        if math.isfinite(total) and total > max_norm:
            scale = max_norm / (total + 1e-6)
            for p in params:
                p.grad *= scale
        return total
    xp = get_array_module(params[0].grad)
    clipping = xp.isfinite(total) & (total > max_norm)
    scale = xp.where(clipping, max_norm / (total + 1e-6), 1.0).astype(total.dtype, copy=False)
    for p in params:
        p.grad *= scale
    return float(total) if sync else total


# ----------------------------------------------------------------------------------------------
# Learning-rate schedules. Each one changes ``optimizer.lr``; call ``step`` where documented.
# A training loop calls every schedule through the same two hooks instead: ``on_step()`` after
# each optimizer step and ``on_epoch_end(epoch, valid_loss)`` after each epoch; a schedule
# reacts to the hook it needs and ignores the other.
# ----------------------------------------------------------------------------------------------
class Schedule:
    """The hooks a training loop calls on every learning-rate schedule (each does nothing here).

    Subclasses override the one they need: a schedule by the step (warm-up, cosine) acts in
    :meth:`on_step`, one by the epoch or by validation (decay, plateau) in :meth:`on_epoch_end`.
    """

    def on_step(self) -> None:
        """Called after every optimizer step."""

    def on_epoch_end(self, epoch: int, valid_loss: float | None) -> None:
        """Called after every epoch (epochs count from 1) with its validation loss, or None when
        there is no validation split."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class ConstantLR(Schedule):
    """No schedule: the learning rate stays where the optimizer has it (``schedule="none"``)."""

    def __init__(self, optimizer=None):
        self.optimizer = optimizer


class ReduceLROnPlateau(Schedule):
    """Multiply the learning rate by ``factor`` when the validation loss stops improving.

    Call ``step(val_loss)`` once per epoch. Improvement means ``val_loss < best * (1 - threshold)``;
    after ``patience`` epochs without one, ``lr <- max(lr * factor, min_lr)``.
    """

    def __init__(self, optimizer, factor: float = 0.5, patience: int = 0, min_lr: float = 0.0,
                 threshold: float = 1e-4):
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.optimizer, self.factor, self.patience = optimizer, factor, patience
        self.min_lr, self.threshold = min_lr, threshold
        self.best = math.inf
        self.bad_epochs = 0

    def step(self, val_loss: float) -> bool:
        """Returns True when the learning rate was reduced."""
        if val_loss < self.best * (1.0 - self.threshold):
            self.best, self.bad_epochs = val_loss, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            self.optimizer.lr = max(self.optimizer.lr * self.factor, self.min_lr)
            self.bad_epochs = 0
            return True
        return False

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_epochs = float(state["best"]), int(state["bad_epochs"])

    def on_epoch_end(self, epoch: int, valid_loss: float | None) -> None:
        """Step on the validation loss (nothing to do without a validation split)."""
        if valid_loss is not None:
            self.step(valid_loss)


class EpochDecay(Schedule):
    """Multiply the learning rate by ``factor`` at the end of every epoch after ``start_epoch``.

    Zaremba et al.'s small PTB model: lr 1, halved (``factor=0.5``) after each epoch from epoch 4
    on (``start_epoch=4``). Call ``step(epoch)`` at the end of each epoch (epochs count from 1).
    """

    def __init__(self, optimizer, start_epoch: int, factor: float = 0.5):
        self.optimizer, self.start_epoch, self.factor = optimizer, start_epoch, factor

    def step(self, epoch: int) -> None:
        if epoch >= self.start_epoch:
            self.optimizer.lr *= self.factor

    def on_epoch_end(self, epoch: int, valid_loss: float | None) -> None:
        self.step(epoch)


class WarmupCosine(Schedule):
    """Linear warm-up for ``warmup_steps``, then cosine decay to ``min_lr`` at ``total_steps``.

    Call ``step()`` after every optimizer step. ``lr(t)`` is a pure function of the step, so
    resuming only needs the step count.
    """

    def __init__(self, optimizer, total_steps: int, warmup_steps: int = 0, min_lr: float = 0.0,
                 base_lr: float | None = None):
        if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
            raise ValueError(f"need 0 <= warmup_steps <= total_steps and total_steps > 0, got "
                             f"warmup_steps={warmup_steps}, total_steps={total_steps}")
        self.optimizer, self.total_steps, self.warmup_steps = optimizer, total_steps, warmup_steps
        self.min_lr = min_lr
        self.base_lr = optimizer.lr if base_lr is None else base_lr
        self.t = 0
        optimizer.lr = self.lr_at(0)

    def lr_at(self, t: int) -> float:
        if t < self.warmup_steps:
            return self.base_lr * (t + 1) / self.warmup_steps
        progress = min(1.0, (t - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        return self.min_lr + 0.5 * (self.base_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))

    def step(self) -> None:
        self.t += 1
        self.optimizer.lr = self.lr_at(self.t)

    def state_dict(self) -> dict:
        return {"t": self.t, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        self.t, self.base_lr = int(state["t"]), float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.t)

    def on_step(self) -> None:
        self.step()


class EarlyStopping:
    """Stop when the validation loss has not improved by ``min_delta`` for ``patience`` epochs.

    ``update(val_loss)`` returns True when the loss is a new best (save a checkpoint then);
    ``should_stop`` turns True once patience is exhausted.
    """

    def __init__(self, patience: int = 3, min_delta: float = 0.0):
        self.patience, self.min_delta = patience, min_delta
        self.best = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self._epoch = 0

    def update(self, val_loss: float) -> bool:
        self._epoch += 1
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = val_loss, self._epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "epoch": self._epoch}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        self.bad_epochs, self._epoch = int(state["bad_epochs"]), int(state["epoch"])
