"""The top rung: a student's function inside the real thing.

For a layer function, a two-layer LSTM (or RNN) language model in float64 runs with the
student's function in place of the library's and must

* start near ln V (an untrained model guesses uniformly among V characters),
* follow the library's loss curve step for step (to a relative error of 1e-8 for 10 Adam steps),
* and learn two short sentences by heart: loss below 0.1 nats per character within 200 steps.

Optimisers, the sampler, the tokenizer and the training step get the same treatment with the
part of the library they belong to.
"""
from __future__ import annotations

import math
from functools import lru_cache
from types import SimpleNamespace

from ..backend import np
from ..nn import functional as reading
from ..nn.tracks import LAYER_FUNCTIONS
from .ladder import FAIL, PASS, Rung, guarded, with_globals

SENTENCES = ("the forget gate keeps what the cell must carry on",
             "a hidden state flows forward as gradients flow back")
CURVE_STEPS = 10
OVERFIT_STEPS = 200
OVERFIT_LOSS = 0.1
LR = 0.05

#: every reading-track function a model can reach, directly or through another one
_REACHABLE = LAYER_FUNCTIONS + ("lstm_step_forward", "lstm_step_backward", "rnn_step_forward",
                                "rnn_step_backward", "gru_step_forward", "gru_step_backward")


def library_with(**overrides) -> SimpleNamespace:
    """The reading track with some functions replaced, as a namespace a model can run.

    Library functions that call a replaced one by name are rebound to call the replacement, so
    that ``library_with(lstm_step_forward=mine)`` runs the library's ``lstm_forward`` over *my*
    step.
    """
    names = {name: getattr(reading, name) for name in _REACHABLE}
    for name, fn in names.items():
        names[name] = overrides.get(name) or with_globals(fn, **overrides)
    return SimpleNamespace(**names, name="the library with your " + ", ".join(overrides))


@lru_cache(maxsize=1)
def sentence_tokenizer():
    """A character tokenizer fitted on the two sentences."""
    from ..text import CharTokenizer  # noqa: PLC0415

    return CharTokenizer().fit("".join(SENTENCES))


def sentence_batch():
    """The two sentences as character ids, time-major: inputs and targets (T, 2), and V."""
    tokenizer = sentence_tokenizer()
    n = min(len(s) for s in SENTENCES)
    ids = np.array([tokenizer.encode(s[:n]) for s in SENTENCES], dtype=np.int64).T
    return ids[:-1], ids[1:], tokenizer.vocab_size


def make_model(functional, cell: str = "lstm", dropout: float = 0.0):
    from ..models import LSTMLanguageModel  # noqa: PLC0415 - the model imports the layers

    _, _, V = sentence_batch()
    return LSTMLanguageModel(V, 12, 12, num_layers=2, dropout=dropout, cell=cell, dtype="float64",
                             seed=0, functional=functional)


def adam_training(model, steps: int, update=None, clip=None, stop_below=None):
    """Train on the two sentences; returns the training losses (before each update) and the
    evaluation loss at the end. ``update(params, t)`` replaces Adam's step when given; ``clip``
    is ``(function, max_norm)``."""
    from ..optim import Adam  # noqa: PLC0415

    x, y, _ = sentence_batch()
    optimizer = Adam(model.parameters(), lr=LR)
    losses = []
    for t in range(1, steps + 1):
        model.train()
        model.seed_dropout(t)
        logits, _ = model(x)
        loss, dlogits = model.loss(logits, y)
        losses.append(float(loss))
        model.zero_grad()
        model.backward(dlogits)
        if clip is not None:
            clip[0](model.parameters(), clip[1])
        if update is not None:
            update(model.parameters(), t)
        else:
            optimizer.step()
        if stop_below is not None and t % 10 == 0 and evaluation_loss(model) < stop_below:
            break
    return losses, evaluation_loss(model)


def evaluation_loss(model) -> float:
    x, y, _ = sentence_batch()
    model.eval()
    logits, _ = model(x)
    loss, _ = model.loss(logits, y)
    model.train()
    return float(loss)


@lru_cache(maxsize=None)
def library_curve(cell: str, dropout: float, kind: str = "adam") -> tuple:
    """The library's first losses for a configuration (computed once per process)."""
    model = make_model(reading, cell, dropout)
    if kind == "adam":
        return tuple(adam_training(model, CURVE_STEPS)[0])
    raise ValueError(kind)


def curve_rung(losses, reference, final_loss, what: str, V: int, steps_taken: int) -> Rung:
    """Judge a training run: starts at ln V, follows the library, learns the sentences."""
    problems = []
    ln_v = math.log(V)
    if not all(math.isfinite(v) for v in losses):
        problems.append(f"the loss became {next(v for v in losses if not math.isfinite(v))} "
                        f"at step {next(k for k, v in enumerate(losses) if not math.isfinite(v)) + 1}")
    elif abs(losses[0] - ln_v) > 0.1:
        problems.append(f"the untrained model's loss is {losses[0]:.4f}, but a model that guesses "
                        f"uniformly among V = {V} characters scores ln V = {ln_v:.4f}")
    n = min(len(reference), len(losses))
    for k in range(n):
        err = abs(losses[k] - reference[k]) / max(abs(reference[k]), 1e-300)
        if not err < 1e-8:
            problems.append(f"the loss curve leaves the library's at step {k + 1}: "
                            f"{losses[k]:.10f} against {reference[k]:.10f}")
            break
    if not problems and not final_loss < OVERFIT_LOSS:
        problems.append(f"after {steps_taken} steps the loss is {final_loss:.3f}, not below "
                        f"{OVERFIT_LOSS}: the model does not learn the sentences")
    if problems:
        return Rung("integration", FAIL, what, problems)
    return Rung("integration", PASS,
                f"{what}: starts at {losses[0]:.4f} (ln V = {ln_v:.4f}), follows the library for "
                f"{n} steps, learns the sentences ({final_loss:.3f} nats after {steps_taken} steps)")


def model_rung(name: str, fn, cell: str = "lstm", dropout: float = 0.0) -> Rung:
    """The student's layer function ``name`` inside a model of the given cell."""
    model = make_model(library_with(**{name: fn}), cell, dropout)
    _, _, V = sentence_batch()

    def run():
        # Dropout slows memorisation down: give it twice the steps.
        return adam_training(model, OVERFIT_STEPS * (2 if dropout else 1), stop_below=OVERFIT_LOSS)

    losses, final = guarded(run, seconds=120)
    what = f"a 2-layer {cell.upper()} model with your {name}" + (f" (dropout {dropout})" if dropout else "")
    return curve_rung(losses, library_curve(cell, dropout), final, what, V, len(losses))


def optimizer_rung(name: str, fn) -> Rung:
    """``clip_grad_norm``, ``sgd_step`` or ``adam_step`` driving the training of a model."""
    from .. import optim  # noqa: PLC0415

    _, _, V = sentence_batch()

    def updates(step_fn):
        if name == "clip_grad_norm":
            return dict(clip=(step_fn, 0.5))
        state = {}

        def update(params, t):
            for k, p in enumerate(params):
                buffers = state.setdefault(k, [np.zeros_like(p.data), np.zeros_like(p.data)])
                if name == "adam_step":
                    step_fn(p.data, p.grad, buffers[0], buffers[1], t, LR)
                else:
                    step_fn(p.data, p.grad, buffers[0], 0.5, 0.9)
        return dict(update=update)

    reference = getattr(optim, name)
    ref_losses = adam_training(make_model(reading), CURVE_STEPS, **updates(reference))[0]
    model = make_model(reading)
    steps = OVERFIT_STEPS * (2 if name == "sgd_step" else 1)
    losses, final = guarded(lambda: adam_training(model, steps, stop_below=OVERFIT_LOSS,
                                                  **updates(fn)), seconds=120)
    what = {"clip_grad_norm": "Adam with your clipping (max norm 0.5)",
            "sgd_step": "your SGD (lr 0.5, momentum 0.9)", "adam_step": "your Adam (lr 0.05)"}[name]
    return curve_rung(losses, ref_losses, final, what, V, len(losses))
