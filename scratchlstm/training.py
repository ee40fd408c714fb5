r"""Training: truncated backpropagation through time, evaluation, checkpoints and resuming.

One epoch walks through the training stream in windows of ``bptt`` steps (see
:func:`scratchlstm.text.bptt_windows`)::

    state = zeros                                  # reset at the start of every epoch
    for inputs, targets in windows:                # (t, B) each
        logits, state = model(inputs, state)       # state values carry over ...
        loss, dlogits = model.loss(logits, targets)
        model.zero_grad(); model.backward(dlogits) # ... but gradients stop at the window edge
        clip_grad_norm(params, clip); optimizer.step()

Perplexity is :math:`e^{\text{loss}}` with the loss in nats per token; a model that guesses
uniformly among V tokens has perplexity V. Bits per character, :math:`\text{loss} \cdot
\frac{\text{tokens}}{\text{chars}} / \ln 2`, compares models whose tokenizers differ.

Nothing is lost on the way: ``last.npz`` (resumable) is written after every epoch and when you
press Ctrl-C (or the run gets SIGTERM or SIGHUP), ``best.npz`` whenever validation improves, both
atomically, and never with weights that are not finite. A non-finite loss or gradient stops
training *before* the weights are touched, naming the step; an epoch whose training or
validation loss is non-finite or absurd (far above the uniform guess, see
:func:`divergence_threshold`) stops it before anything of that epoch is saved. Either way the
message names the last good checkpoint.

On a GPU a training step waits for the device exactly once: to read the global gradient norm,
which the NaN guard needs before the update. The running loss stays on the device and travels
with that same read every :data:`LOSS_READ_EVERY` steps (and at the end of the epoch); clipping
decides on the device; dropout masks need no random generator. Nothing inside the LSTM's loop
over time steps reads from or copies to the host.
"""
from __future__ import annotations

import csv
import io
import json
import math
import numbers
import signal
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .backend import device_of, kernel_cache_dir, read_scalars, to_device, to_host, np
from .checkpoint import (CheckpointError, NonFiniteWeightsError, OutputError, load_checkpoint,
                         remove_stale_temp_files, save_checkpoint, write_atomically)
from .config import DataConfig, TrainConfig
from .optim import (NTASGD, SGD, Adam, AdamW, ConstantLR, EarlyStopping, EpochDecay,
                    ReduceLROnPlateau, WarmupCosine, clip_grad_norm, grad_norm)
from .progress import Progress, terminal_columns
from .text import batchify, bptt_windows


#: Steps between reads of the running training loss (for the progress bar and the epoch's mean).
#: A read travels with the step's one read of the gradient norm, so it costs no extra wait.
LOSS_READ_EVERY = 10


class TrainingDiverged(RuntimeError):
    """The loss or the gradient became NaN or infinite, or the loss far above a uniform guess."""


class TrainingAborted(KeyboardInterrupt):
    """A second interrupt (Ctrl-C, SIGTERM, SIGHUP) arrived before the checkpoint was saved."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def divergence_threshold(vocab_size: int) -> float:
    r"""The loss (nats/token) above which training counts as diverged although finite.

    A model that guesses uniformly scores :math:`\ln V`; a trained one less. ``10 ln V + 10`` is
    a perplexity of :math:`e^{10} V^{10}`: no learning model gets there, while a blown-up one
    (``lr=1e6``: losses around 1e6) is far beyond it.
    """
    return 10.0 * math.log(vocab_size) + 10.0


def _batchify_split(ids: dict, split: str, batch_size: int, option: str):
    """``batchify(ids[split], batch_size)`` with a message that names the split and the option."""
    n = int(ids[split].size)
    if n < 2 * batch_size:
        raise ValueError(f"the {split} split has only {n} tokens, too few for {option}={batch_size} "
                         f"({_flag(option)}): each of the {batch_size} streams needs at least 2 tokens. "
                         f"Lower {_flag(option)} or use more text (a larger --max-chars).")
    return batchify(ids[split], batch_size)


def epoch_line(row: dict, width: int | None = None) -> str:
    """The one line (or two, to stay inside ``width`` columns, default the terminal's) that
    reports an epoch: losses, perplexities, bits per character, learning rate, speed, time."""
    parts = [f"epoch {row['epoch']:3d}", f"train loss {row['train_loss']:.3f} ppl {row['train_ppl']:.2f}"]
    if "valid_loss" in row:
        parts.append(f"valid loss {row['valid_loss']:.3f} ppl {row['valid_ppl']:.2f}"
                     + (f" bpc {row['valid_bpc']:.3f}" if "valid_bpc" in row else ""))
    parts += [f"lr {row['lr']:.3g}", f"{row['tokens_per_s']:,.0f} tok/s", f"{row['seconds']:.1f}s"]
    width = width or max(60, min(terminal_columns(), 200))
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 3 + len(part) > width:
            lines.append(" " * len(f"epoch {row['epoch']:3d}"))
        lines[-1] += " | " + part
    return "\n".join(lines)


def make_optimizer(config: TrainConfig, params) -> SGD | Adam:
    """The optimizer ``config.optimizer`` names, over ``params``, with the config's settings."""
    if config.optimizer == "sgd":
        return SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "ntasgd":
        return NTASGD(params, lr=config.lr, weight_decay=config.weight_decay, nonmono=config.nonmono,
                      average_after=config.average_after)
    if config.optimizer == "adamw":
        return AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    return Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def perplexity(loss: float) -> float:
    """``exp(loss)``, capped to avoid overflow for a diverged loss."""
    return math.exp(min(loss, 700.0))


def bits_per_char(loss: float, n_tokens: int, n_chars: int) -> float:
    """Total information in bits divided by characters: comparable across tokenizers."""
    return loss * n_tokens / max(n_chars, 1) / math.log(2)


def evaluate(model, ids, batch_size: int = 10, bptt: int = 35, progress: Callable[[int], object] | None = None) -> float:
    """Mean cross-entropy (nats per token) of ``model`` on a token stream, state carried over.

    Parameters
    ----------
    ids : (N,) int array of token ids, or an already batchified (T, B) array
    progress : callable or None, called with 1 after every window (e.g. a progress bar's
        ``update``); it reads nothing from the device
    """
    data = ids if getattr(ids, "ndim", 1) == 2 else batchify(ids, batch_size)
    model.eval()
    state = None
    total = 0.0
    count = 0
    with model.inference():                      # no backward follows: keep no history
        for inputs, targets in bptt_windows(data, bptt):
            logits, state = model(inputs, state)
            loss = model.evaluation_loss(logits, model.to_device_ids(targets))
            total = total + loss * targets.size  # stays on the device until the end
            count += targets.size
            if progress is not None:
                progress(1)
    return float(total) / max(count, 1)


def train_step(model, optimizer, inputs, targets, state=None, clip: float | None = None) -> tuple:
    """One step of truncated backpropagation through time, written to be read.

    Forward over one window from the carried ``state``, the loss and its gradient, backward (the
    gradient stops at the window's start: each forward begins a new graph), clipping by the global
    norm, and the update. :meth:`Trainer.train_step` does the same, plus a guard against
    non-finite gradients, repeatable dropout masks and bookkeeping.

    Parameters
    ----------
    model : LSTMLanguageModel
    optimizer : an optimizer over ``model.parameters()`` (SGD, Adam, AdamW)
    inputs, targets : (T, B) int arrays, the window and the same window shifted by one token
    state : the final state of the previous window, or None at the start of the text
    clip : float or None, the global gradient-norm limit

    Returns
    -------
    loss : 0-d array, the mean cross-entropy of this window (before the update)
    state : the final state, to pass to the next window
    """
    logits, state = model(inputs, state)
    loss, dlogits = model.loss(logits, model.to_device_ids(targets))
    model.zero_grad()
    model.backward(dlogits)
    if clip:
        clip_grad_norm(model.parameters(), clip)
    optimizer.step()
    return loss, state


#: The signals that ask a run to stop: Ctrl-C, ``kill``/``timeout``/batch schedulers, and a
#: closed terminal. Each gets the same answer: finish the step, save last.npz, return.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


class _StopFlag:
    """Turns the first stop signal into a polite request (finish this step, save, return).

    A second signal aborts at once with :class:`TrainingAborted`, even in the middle of the save
    (the save is atomic, so the previous checkpoint survives). A signal that was ignored when
    training started (``nohup`` ignores SIGHUP) stays ignored.
    """

    def __init__(self):
        self.requested: str | None = None      # the name of the signal that asked to stop
        self._previous: dict = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        name = signal.Signals(signum).name
        if self.requested:             # a second signal: stop at once
            raise TrainingAborted(f"{name} after {self.requested}")
        self.requested = name

    def __exit__(self, *exc):
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}


class Trainer:
    """Train a language model on token streams with truncated BPTT.

    Parameters
    ----------
    model : LSTMLanguageModel (on any device)
    data : dict with ``"train"`` and optionally ``"valid"``, ``"test"``: 1-D int arrays of token ids
    config : TrainConfig or dict
    tokenizer : stored in checkpoints so that generation needs only the checkpoint
    out_dir : folder for ``best.npz``, ``last.npz``, ``history.json``/``.csv``, ``curves.png``;
        None keeps everything in memory
    chars : optional dict split -> number of characters of the raw text, to report bits per char
    log : callable for one line per epoch (default ``print``; pass ``None`` for silence)
    data_config : DataConfig or None, where the token streams came from (corpus, ``max_chars``,
        tokenizer options): stored in checkpoints as ``data_config`` so that a resumed run reads
        the same text
    """

    def __init__(self, model, data: dict, config: TrainConfig | dict | None = None, tokenizer=None,
                 out_dir=None, chars: dict | None = None, log=print,
                 data_config: DataConfig | None = None):
        self.model = model
        self.config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config or {})
        self.data_config = data_config
        self.tokenizer = tokenizer
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.chars = chars or {}
        self.log = log or (lambda *a, **k: None)
        if "train" not in data:
            raise ValueError("data must contain a 'train' token stream")
        # Token streams live on the host (batchify, windows and id checks happen there); device
        # arrays are copied back explicitly.
        self.ids = {k: to_host(v) for k, v in data.items() if v is not None}
        from .text import validate_ids  # noqa: PLC0415

        for split, ids in self.ids.items():
            validate_ids(ids, model.vocab_size)
        c = self.config
        self.train_data = _batchify_split(self.ids, "train", c.batch_size, "batch_size")
        self.eval_data = {k: _batchify_split(self.ids, k, c.eval_batch_size, "eval_batch_size")
                          for k in self.ids if k != "train"}
        self.optimizer = make_optimizer(c, model.parameters())
        self.stopper = EarlyStopping(c.patience) if c.patience is not None else None
        self.scheduler = self._make_scheduler()
        # position, restored by resume
        self.epoch = 1
        self.window = 0
        self.global_step = 0
        self.state = None
        self.epoch_loss_sum = 0.0
        self.epoch_tokens = 0
        self.epoch_seconds = 0.0       # training time of the current epoch in earlier sittings
        self.history: list[dict] = []
        self.best_valid = math.inf
        self.best_epoch = 0
        self.best_weights = None
        self.result: dict = {}
        self.extra_meta: dict = {}     # stored in checkpoints as-is (e.g. the CLI's settings)
        # The epoch's loss not yet read from the device: a running sum over `_unread_steps` steps.
        self._loss_sum = 0.0
        self._unread_steps = 0
        self._read_loss_now = False    # set by train_epoch: read the loss with this step's norm
        self._warmed_up = False
        # best.npz and last.npz of one run carry the same id, so a stray best.npz from another
        # run in the same folder is recognised at resume time
        self.run_id = uuid.uuid4().hex
        # the newest checkpoint this trainer wrote or resumed from: what messages call "good"
        self.last_good: tuple[Path, int, int] | None = None      # (path, epoch, step)

    # -- setup ---------------------------------------------------------------------------------
    def steps_per_epoch(self) -> int:
        n = len(bptt_windows(self.train_data, self.config.bptt))
        cap = self.config.max_steps_per_epoch
        return min(n, cap) if cap else n

    def _make_scheduler(self):
        """The learning-rate schedule ``config.schedule`` names. Every schedule is driven the same
        way, through ``on_step()`` and ``on_epoch_end(epoch, valid_loss)`` (see
        :class:`scratchlstm.optim.Schedule`)."""
        c = self.config
        if c.schedule == "plateau":
            return ReduceLROnPlateau(self.optimizer, factor=c.plateau_factor, patience=c.plateau_patience,
                                     min_lr=c.min_lr)
        if c.schedule == "epoch_decay":
            return EpochDecay(self.optimizer, start_epoch=c.decay_start, factor=c.decay_factor)
        if c.schedule == "cosine":
            total_steps = c.epochs * self.steps_per_epoch()
            return WarmupCosine(self.optimizer, total_steps=total_steps,
                                warmup_steps=min(c.warmup_steps, total_steps), min_lr=c.min_lr)
        return ConstantLR(self.optimizer)

    def _windows(self, epoch: int):
        c = self.config
        rng = np.random.default_rng([c.seed, epoch]) if c.variable_bptt else None
        return bptt_windows(self.train_data, c.bptt, variable=c.variable_bptt, rng=rng)

    # -- one step and one epoch ------------------------------------------------------------------
    def train_step(self, inputs, targets):
        """Forward, loss, backward, clip, guard, update. Returns the loss (a device scalar).

        Waits for the device once: to read the gradient norm for the guard (and, when
        ``train_epoch`` asks, the running loss in the same transfer).
        """
        model, c = self.model, self.config
        model.seed_dropout(c.seed, step=self.global_step)   # masks of this step: resumable, no generator
        logits, state = model(inputs, self.state)
        loss, dlogits = model.loss(logits, model.to_device_ids(targets))
        model.zero_grad()
        model.backward(dlogits)
        params = self.optimizer.params
        norm = clip_grad_norm(params, c.clip, sync=False) if c.clip else grad_norm(params, sync=False)
        self._loss_sum = self._loss_sum + loss * targets.size        # stays on the device
        self._unread_steps += 1
        if self._read_loss_now:
            norm, loss_sum = read_scalars(norm, self._loss_sum)      # one transfer for both
            self._add_read_loss(loss_sum)
        else:
            norm = float(norm)                                       # the step's one wait
        if not math.isfinite(norm):
            raise TrainingDiverged(
                f"non-finite loss/gradient (loss {float(loss):.4g}, gradient norm {norm}) at epoch "
                f"{self.epoch}, step {self.window + 1} (global step {self.global_step + 1}). The "
                f"weights were not updated. {self.good_checkpoint_note()} Lower the learning rate "
                f"(now {self.optimizer.lr:g}) or clip the gradient norm (clip=...).")
        if c.variable_bptt:
            # AWD-LSTM: a window shorter than bptt takes a proportionally smaller step, so that
            # each token moves the weights about as much whatever the window's length
            base_lr = self.optimizer.lr
            self.optimizer.lr = base_lr * inputs.shape[0] / c.bptt
            self.optimizer.step()
            self.optimizer.lr = base_lr
        else:
            self.optimizer.step()
        self.scheduler.on_step()
        self.state = state
        self.global_step += 1
        self.window += 1
        return loss

    def _add_read_loss(self, loss_sum: float) -> None:
        self.epoch_loss_sum += loss_sum
        self._loss_sum, self._unread_steps = 0.0, 0

    def _read_loss(self) -> None:
        """Add the loss still on the device to ``epoch_loss_sum`` (a wait, when there is any)."""
        if self._unread_steps:
            self._add_read_loss(read_scalars(self._loss_sum)[0])

    def warm_up(self) -> float:
        """One forward and backward pass and one optimizer step on scratch parameters, changing
        nothing: on a GPU, CuPy compiles each kernel the first time it runs, and this makes that
        a visible step ("compiling CUDA kernels, once") instead of a silent pause in step 1.

        Returns the seconds it took.
        """
        from .nn.module import Parameter  # noqa: PLC0415

        model = self.model
        cache = kernel_cache_dir()
        if cache.is_dir() and any(cache.iterdir()):
            self.log(f"loading CUDA kernels (compiled on the first GPU run, cached in {cache}) ...")
        else:
            self.log("compiling CUDA kernels, once: the first GPU run compiles them (it may take "
                     f"a minute), later runs load them from {cache} ...")
        start = time.perf_counter()
        inputs, targets = next(iter(self._windows(self.epoch)))
        model.train()
        model.seed_dropout(self.config.seed, step=self.global_step)
        logits, _ = model(inputs)
        loss, dlogits = model.loss(logits, model.to_device_ids(targets))
        model.zero_grad()
        model.backward(dlogits)
        norm = clip_grad_norm(model.parameters(), self.config.clip or 1.0, sync=False)
        model.zero_grad()
        xp = model.xp
        scratch = Parameter(xp.zeros(8, dtype=model.dtype))
        scratch.grad = xp.ones(8, dtype=model.dtype)
        make_optimizer(self.config, [scratch]).step()
        read_scalars(norm, loss, scratch.data[0])                    # wait until all of it ran
        seconds = time.perf_counter() - start
        self.log(f"CUDA kernels ready in {seconds:.1f} s")
        self._warmed_up = True
        return seconds

    def train_epoch(self, stop: _StopFlag | None = None) -> bool:
        """Run (the rest of) the current epoch. Returns False when interrupted."""
        c = self.config
        total = self.steps_per_epoch()
        windows = iter(self._windows(self.epoch))
        for _ in range(self.window):        # resuming mid-epoch: skip what was done
            next(windows)
        self.model.train()
        start = time.perf_counter()
        tokens_at_start = self.epoch_tokens
        self._loss_sum, self._unread_steps = 0.0, 0
        with Progress(total, f"epoch {self.epoch}", enabled=c.progress) as bar:
            bar.count = self.window
            for inputs, targets in windows:
                if self.window >= total:
                    break
                position = self.window + 1
                self._read_loss_now = (position == total or position % LOSS_READ_EVERY == 0
                                       or (stop is not None and stop.requested))
                self.train_step(inputs, targets)
                self.epoch_tokens += targets.size
                fields = {}
                if self._unread_steps == 0:              # the loss was read with this step
                    avg = self.epoch_loss_sum / max(self.epoch_tokens, 1)
                    seen = self.epoch_tokens - tokens_at_start
                    fields = dict(loss=avg, ppl=perplexity(avg),
                                  tok_s=int(seen / max(time.perf_counter() - start, 1e-9)))
                bar.update(1, **fields)
                if stop is not None and stop.requested:
                    self._read_loss()
                    self.epoch_seconds += time.perf_counter() - start    # saved with the position
                    return False
        self._read_loss()          # nothing left to read unless the windows ended early
        self._read_loss_now = False
        # the whole epoch's time and tokens, the sittings before a resume included
        self._epoch_seconds = self.epoch_seconds + time.perf_counter() - start
        self._epoch_tok_s = self.epoch_tokens / max(self._epoch_seconds, 1e-9)
        return True

    # -- the loop -------------------------------------------------------------------------------
    def fit(self) -> list[dict]:
        """Train until ``epochs``, early stopping or a stop signal; evaluate the best weights on test.

        Returns the history (one dict per finished epoch). ``self.result`` holds the final
        summary (best epoch, valid/test loss and perplexity, interrupted or not).

        Ctrl-C, SIGTERM and SIGHUP finish the current step, save a resumable ``last.npz`` and
        return with ``result["interrupted"]``. A second one aborts at once with
        :class:`TrainingAborted` (the earlier checkpoints stay intact).
        """
        c = self.config
        if self.out_dir:
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot create the output folder {self.out_dir}: "
                                  f"{exc.strerror or exc}") from exc
            remove_stale_temp_files(self.out_dir)       # left by a run killed mid-save
        interrupted = False
        if device_of(self.model.parameters()[0].data) == "cuda" and not self._warmed_up:
            self.warm_up()
        try:
            with _StopFlag() as stop:
                while self.epoch <= c.epochs:
                    if self.window == 0:
                        self.state = None          # reset the hidden state at the start of each epoch
                        self.epoch_loss_sum, self.epoch_tokens, self.epoch_seconds = 0.0, 0, 0.0
                    if not self.train_epoch(stop):
                        interrupted = True
                        break
                    self._end_epoch()
                    if self.stopper is not None and self.stopper.should_stop:
                        self.log(f"early stopping: no improvement for {c.patience} epochs "
                                 f"(best epoch {self.best_epoch})")
                        break
                    if stop.requested:
                        interrupted = True
                        break
                if interrupted:
                    self._save_on_interrupt(stop.requested)
                    return self.history
        except TrainingAborted as exc:
            raise TrainingAborted(f"aborted by {exc} before the checkpoint was saved. "
                                  f"{self.good_checkpoint_note()}") from None
        self._finish()
        return self.history

    def _save_on_interrupt(self, signal_name: str) -> None:
        path = None
        if self.out_dir:
            saved = self.last_good is not None and self.last_good[0] == self.out_dir / "last.npz" \
                and self.last_good[1:] == (self.epoch, self.window)
            path = self.out_dir / "last.npz" if saved else self.save(self.out_dir / "last.npz")
        self.result = {"interrupted": True, "signal": signal_name, "epoch": self.epoch, "step": self.window}
        self._say(f"{signal_name}: stopped at epoch {self.epoch}, step {self.window}: "
                  + (f"resumable checkpoint saved to {path}" if path else "no out_dir, nothing saved"))

    def _say(self, message: str) -> None:
        """Log a line; a closed terminal (SIGHUP) must not turn a saved run into a crash."""
        try:
            self.log(message)
        except OSError:
            pass

    def good_checkpoint_note(self) -> str:
        """One sentence naming the newest checkpoint this run wrote (or resumed from), or saying
        that there is none. Only checkpoints that passed the finite-weights check qualify."""
        if self.last_good is None:
            return "No checkpoint of this run was saved yet."
        path, epoch, step = self.last_good
        where = f"epoch {epoch}, step {step}" if step else f"the start of epoch {epoch}"
        return f"The last good checkpoint is {path} (resumes at {where})."

    def _check_divergence(self, row: dict) -> None:
        """Raise TrainingDiverged for a non-finite or absurd epoch loss, before anything is saved."""
        limit = divergence_threshold(self.model.vocab_size)
        for key in ("train_loss", "valid_loss"):
            value = row.get(key)
            if value is None or (math.isfinite(value) and value <= limit):
                continue
            split = key.split("_")[0]
            raise TrainingDiverged(
                f"training diverged in epoch {self.epoch}: the {split} loss is {value:.4g} nats/token, "
                f"{'not a finite number' if not math.isfinite(value) else f'far above {limit:.1f}'} "
                f"(a uniform guess over the {self.model.vocab_size:,} tokens scores "
                f"{math.log(self.model.vocab_size):.2f}). This epoch's weights were not saved. "
                f"{self.good_checkpoint_note()} Lower the learning rate (now {self.optimizer.lr:g}) "
                "or clip the gradient norm (clip=...).")

    def _evaluate(self, split: str, desc: str | None = None) -> float:
        """Mean loss on ``split`` with the best settings for it, showing its own progress bar."""
        c = self.config
        data = self.eval_data[split]
        with Progress(len(bptt_windows(data, c.bptt)), desc or f"epoch {self.epoch}: {split}",
                      enabled=c.progress) as bar:
            return evaluate(self.model, data, c.eval_batch_size, c.bptt, progress=bar.update)

    def _end_epoch(self) -> None:
        c = self.config
        train_loss = self.epoch_loss_sum / max(self.epoch_tokens, 1)
        row = {"epoch": self.epoch, "train_loss": train_loss, "train_ppl": perplexity(train_loss),
               "lr": self.optimizer.lr, "tokens_per_s": self._epoch_tok_s, "seconds": self._epoch_seconds}
        # an averaging optimizer (NT-ASGD) is judged, and kept, by its averaged weights
        with self.optimizer.averaged():
            if "valid" in self.eval_data:
                valid_loss = self._evaluate("valid")
                row.update(valid_loss=valid_loss, valid_ppl=perplexity(valid_loss))
            kept_weights = self.model.state_dict()
        self._check_divergence(row)
        if "valid" in self.eval_data and self.optimizer.epoch_end(valid_loss):
            why = getattr(self.optimizer, "switch_reason", None) or "validation stopped improving"
            self.log(f"epoch {self.epoch}: {why}, so {type(self.optimizer).__name__} "
                     "averages the weights from here on")
        averaging = getattr(self.optimizer, "averaging", None)
        if averaging is not None:                        # on every row, for the curves
            row["averaging"] = averaging
        improved = False
        if "valid" in self.eval_data:
            if "valid" in self.chars:
                row["valid_bpc"] = bits_per_char(valid_loss, self.ids["valid"].size - 1, self.chars["valid"])
            improved = valid_loss < self.best_valid
            if self.stopper is not None:
                self.stopper.update(valid_loss)
        else:
            improved = True
        self.scheduler.on_epoch_end(self.epoch, row.get("valid_loss"))
        self.history.append(row)
        self.log(epoch_line(row))
        if improved:
            self.best_valid = row.get("valid_loss", train_loss)
            self.best_epoch = self.epoch
            self.best_weights = kept_weights
        # advance the position before saving, so that last.npz resumes at the next epoch
        self.epoch += 1
        self.window = 0
        self.state = None
        self.epoch_loss_sum, self.epoch_tokens, self.epoch_seconds = 0.0, 0, 0.0
        if self.out_dir:
            if improved:
                with self.optimizer.averaged():          # best.npz holds the weights evaluated
                    self.save(self.out_dir / "best.npz")
            self.save(self.out_dir / "last.npz")         # the iterate and the average: resumes
            self.write_history()

    def _finish(self) -> None:
        c = self.config
        result = {"interrupted": False, "best_epoch": self.best_epoch, "epochs_run": len(self.history)}
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)
        for split in ("valid", "test"):
            if split in self.eval_data:
                loss = self._evaluate(split, f"best epoch {self.best_epoch}: {split}")
                result[f"{split}_loss"], result[f"{split}_ppl"] = loss, perplexity(loss)
                if split in self.chars:
                    result[f"{split}_bpc"] = bits_per_char(loss, self.ids[split].size - 1, self.chars[split])
        self.result = result
        if "test_loss" in result:                  # the run's one summary line
            bpc = f" ({result['test_bpc']:.3f} bits/char)" if "test_bpc" in result else ""
            self.log(f"best epoch {self.best_epoch}: valid ppl {result.get('valid_ppl', float('nan')):.2f}, "
                     f"test ppl {result['test_ppl']:.2f}{bpc}")
        if self.out_dir:
            self.write_history()

    # -- persistence ----------------------------------------------------------------------------
    def write_history(self) -> None:
        """history.json (the training config as ``config``, the model's as ``model``, the data's as
        ``data``, every epoch and the final result), history.csv and curves.png in ``out_dir``.

        Each file is written atomically (a temporary file, then a rename), so a kill mid-write
        leaves the previous version, never half a file.
        """
        if not self.out_dir or not self.history:
            return
        from .plots import plot_history  # noqa: PLC0415 - matplotlib is slow to import
        import matplotlib.pyplot as plt  # noqa: PLC0415

        write_atomically(self.out_dir / "history.json", json.dumps(
            {"config": asdict(self.config), "model": self.model.config,
             "data": asdict(self.data_config) if self.data_config is not None else None,
             "history": self.history, "result": self.result}, indent=2).encode("utf-8"))
        keys = sorted({k for row in self.history for k in row}, key=lambda k: (k != "epoch", k))
        table = io.StringIO(newline="")
        writer = csv.DictWriter(table, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.history)
        write_atomically(self.out_dir / "history.csv", table.getvalue().encode("utf-8"))
        fig = plot_history(self.history)
        image = io.BytesIO()
        fig.savefig(image, format="png", dpi=110)
        plt.close(fig)
        write_atomically(self.out_dir / "curves.png", image.getvalue())

    def save(self, path) -> Path:
        """A resumable checkpoint: weights, tokenizer, optimizer, schedule and position.

        Raises
        ------
        TrainingDiverged
            Some weights are NaN or infinite: nothing is written (the previous file stays).
        OutputError
            The file could not be written (disk full, ...): the previous file stays.
        """
        meta = {
            "kind": "training",
            "run_id": self.run_id,
            "train_config": asdict(self.config),
            "epoch": self.epoch, "window": self.window, "global_step": self.global_step,
            "epoch_loss_sum": self.epoch_loss_sum, "epoch_tokens": self.epoch_tokens,
            "epoch_seconds": self.epoch_seconds,
            "train_tokens": int(self.ids["train"].size),
            "history": self.history, "best_valid": self.best_valid if math.isfinite(self.best_valid) else None,
            "best_epoch": self.best_epoch,
            "scheduler": self.scheduler.state_dict(),
            "stopper": self.stopper.state_dict() if self.stopper is not None else None,
            "data_config": asdict(self.data_config) if self.data_config is not None else None,
            "extra": self.extra_meta,
        }
        arrays = {}
        for k, s in enumerate(self.state or ()):
            arrays[f"state/{k}"] = s               # (h, c) for an LSTM, (h,) for GRU/RNN
        try:
            written = save_checkpoint(path, self.model, self.tokenizer, self.optimizer, meta, arrays)
        except NonFiniteWeightsError as exc:
            raise TrainingDiverged(f"{exc} {self.good_checkpoint_note()}") from None
        except OutputError as exc:
            raise OutputError(f"{exc}. {self.good_checkpoint_note()} Free some space (or choose "
                              "another --out) and resume.") from exc
        self.last_good = (written, self.epoch, self.window)
        return written

    @classmethod
    def resume(cls, path, data: dict, out_dir=None, device: str | None = None, log=print,
               chars: dict | None = None, **config_overrides) -> "Trainer":
        """Rebuild a trainer from a checkpoint written by :meth:`save` and continue where it was.

        ``data`` must be the same token streams (same tokenizer) as the original run.
        ``config_overrides`` may change e.g. ``epochs`` to train longer, or ``lr`` to continue
        with a smaller learning rate after a divergence (it replaces the saved optimizer's).

        Raises
        ------
        CheckpointError
            The file is not a training checkpoint, its metadata is damaged, or the ``best.npz``
            beside it belongs to another run or model.
        ValueError
            ``data`` are not the streams the run was trained on (another corpus or --max-chars).
        """
        ckpt = load_checkpoint(path)
        m = ckpt.user_meta
        if m.get("kind") != "training":
            raise CheckpointError(f"{path} is not a resumable training checkpoint")
        position = _read_position(path, m)
        if not isinstance(m.get("train_config"), dict):
            raise CheckpointError(f"{path}: its training config is damaged (not a JSON object)")
        saved_tokens = m.get("train_tokens")
        if "train" in data and saved_tokens is not None and int(np.asarray(data["train"]).size) != saved_tokens:
            raise ValueError(f"{path} was trained on {saved_tokens:,} training tokens, but the data given "
                             f"have {int(np.asarray(data['train']).size):,}: resume with the same corpus "
                             "(--data) and the same --max-chars as the original run")
        tokenizer = ckpt.tokenizer()                     # checked against the model's vocabulary
        model = ckpt.build_model(device)
        config = TrainConfig.from_dict({**m["train_config"], **config_overrides})
        trainer = cls(model, data, config, tokenizer=tokenizer,
                      out_dir=out_dir if out_dir is not None else Path(path).parent, chars=chars, log=log)
        ckpt.load_optimizer(trainer.optimizer)
        # An explicit override beats the saved value (the checkpoint restored every hyperparameter
        # of the optimizer, NT-ASGD's interval and backstop included).
        saved = trainer.optimizer.hyperparameters()
        for key in ("lr", "momentum", "weight_decay", "nonmono", "average_after"):
            if key in config_overrides and key in saved:
                setattr(trainer.optimizer, key, config_overrides[key])
        (trainer.epoch, trainer.window, trainer.global_step, trainer.epoch_loss_sum,
         trainer.epoch_tokens, trainer.history, trainer.best_valid, trainer.best_epoch,
         trainer.epoch_seconds) = position
        if trainer.window > trainer.steps_per_epoch():
            raise ValueError(f"{path} stopped at step {trainer.window} of epoch {trainer.epoch}, but these "
                             f"data give only {trainer.steps_per_epoch()} steps per epoch: resume with the "
                             "same corpus, --max-chars, --batch-size and --bptt as the original run")
        trainer.extra_meta = m.get("extra") if isinstance(m.get("extra"), dict) else {}
        trainer.data_config = read_data_config(path, m)
        trainer.run_id = m.get("run_id") or trainer.run_id
        try:
            if m.get("scheduler") is not None:
                trainer.scheduler.load_state_dict(m["scheduler"])
            if trainer.stopper is not None and m.get("stopper") is not None:
                trainer.stopper.load_state_dict(m["stopper"])
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise CheckpointError(f"{path}: its schedule or early-stopping state is damaged "
                                  f"({type(exc).__name__}: {exc})") from exc
        parts = sorted(k for k in ckpt.arrays if k.startswith("state/"))
        if parts:
            trainer.state = tuple(to_device(ckpt.arrays[k], model.device) for k in parts)
        best = Path(path).parent / "best.npz"
        if best.exists() and trainer.best_epoch:
            trainer.best_weights = (ckpt.model_state() if best.resolve() == Path(path).resolve()
                                    else _best_weights_of_run(best, m.get("run_id"), model))
        trainer.last_good = (Path(path), trainer.epoch, trainer.window)
        return trainer


def read_data_config(path, m: dict) -> DataConfig | None:
    """The DataConfig a training checkpoint's metadata ``m`` records (None when it records none).

    Checkpoints of scratchlstm 0.1 kept the command line's settings in ``extra.cli_settings``
    under other names; those are read too.
    """
    from .config import data_config_from_legacy, from_dict  # noqa: PLC0415

    saved = m.get("data_config")
    try:
        if isinstance(saved, dict):
            return from_dict(DataConfig, saved, "data options")
        extra = m.get("extra") if isinstance(m.get("extra"), dict) else {}
        if isinstance(extra.get("cli_settings"), dict):
            return data_config_from_legacy(extra["cli_settings"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its data settings are damaged ({exc})") from exc
    if saved is not None:
        raise CheckpointError(f"{path}: its data settings are damaged (not a JSON object)")
    return None


def _read_position(path, m: dict) -> tuple:
    """The saved position of a run, type-checked: (epoch, window, global_step, epoch_loss_sum,
    epoch_tokens, history, best_valid, best_epoch, epoch_seconds); a checkpoint from before
    epoch_seconds was saved reads as 0 there."""
    def number(key, kind=int, low=0, none_ok=False):
        value = m.get(key)
        if value is None and none_ok:
            return None
        if isinstance(value, bool) or not isinstance(value, kind) or (kind is int and value < low):
            raise CheckpointError(f"{path}: its training position is damaged ({key} = {value!r}); the "
                                  "file was edited by hand or corrupted")
        return value

    history = m.get("history")
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise CheckpointError(f"{path}: its training history is damaged (not a list of epochs)")
    best_valid = number("best_valid", numbers.Real, none_ok=True)
    return (number("epoch", low=1), number("window"), number("global_step"),
            float(number("epoch_loss_sum", numbers.Real)), number("epoch_tokens"), history,
            float(best_valid) if best_valid is not None else math.inf, number("best_epoch"),
            float(number("epoch_seconds", numbers.Real)) if "epoch_seconds" in m else 0.0)


def _best_weights_of_run(best: Path, run_id: str | None, model) -> dict:
    """The weights of ``best.npz``, refused when it belongs to another run or another model."""
    ckpt = load_checkpoint(best)
    try:
        ckpt.check_fits(model)
    except CheckpointError as exc:
        raise CheckpointError(f"{best} does not belong to this run: {exc}. Move it away, or resume "
                              "into another folder with --out") from exc
    other = ckpt.user_meta.get("run_id")
    if run_id and other and other != run_id:
        raise CheckpointError(f"{best} belongs to another training run than the checkpoint beside it "
                              "(their run ids differ): move it away, or resume into another folder "
                              "with --out, so the best weights are not mixed up")
    return ckpt.model_state()


#: The files a run writes into its folder (what prepare_out_dir protects).
RUN_FILES = ("best.npz", "last.npz", "history.json", "history.csv", "curves.png")


def prepare_out_dir(out: Path, overwrite: bool, resuming: Path | None = None) -> None:
    """Refuse to mix a new run into a folder that holds another one, unless ``overwrite``
    (then the old run's files are removed, and only those).

    Resuming into the checkpoint's own folder (``resuming``: its last.npz) continues that run,
    so it is allowed.

    Raises
    ------
    ValueError : ``out`` holds a run and ``overwrite`` is False (the message says what to do)
    """
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if not existing or (resuming is not None and out.resolve() == resuming.parent.resolve()):
        return
    if not overwrite:
        hint = f"--resume {out / 'last.npz'} to continue it, " if "last.npz" in existing else ""
        raise ValueError(f"{out} already holds a training run ({', '.join(existing)}); nothing was "
                         f"changed. Pass --overwrite to replace it, {hint}or --out to choose "
                         "another folder.")
    for name in existing:
        (out / name).unlink()
    print(f"--overwrite: removed the previous run's {', '.join(existing)} from {out}")
