"""Spec of train.py: one step of truncated backpropagation through time."""
from __future__ import annotations

import math

from ...backend import np
from ... import training
from ..integration import make_model, sentence_batch
from ..ladder import FAIL, PASS, Case, KnownBug, Rung, Spec, guarded, mutant

_CASES = [("the first window (state None), Adam, no clipping", False, None, "adam"),
          ("a carried state, Adam, clip 0.5", True, 0.5, "adam"),
          ("a carried state, SGD, clip 1", True, 1.0, "sgd")]


def _inputs(k):
    from ...optim import SGD, Adam  # noqa: PLC0415
    from ...nn import functional  # noqa: PLC0415

    _, carried, clip, kind = _CASES[k]
    x, y, V = sentence_batch()
    model = make_model(functional)
    optimizer = Adam(model.parameters(), lr=0.05) if kind == "adam" else SGD(model.parameters(), lr=0.5)
    # Stale gradients from an earlier step, as a real training loop leaves them.
    logits, _ = model(x[:5])
    model.backward(model.loss(logits, y[:5])[1])
    state = None
    if carried:
        rng = np.random.default_rng(90 + k)
        state = tuple(rng.standard_normal((2, 2, 12)) * 0.5 for _ in range(2))
    return dict(model=model, optimizer=optimizer, inputs=x[5:17], targets=y[5:17], state=state, clip=clip)


def _call(fn, inputs):
    raw = fn(*inputs.values())
    if not isinstance(raw, tuple) or len(raw) != 2:
        from ..ladder import WrongArity  # noqa: PLC0415

        raise WrongArity("should return loss, state")
    loss, state = raw
    params = np.concatenate([p.data.reshape(-1) for p in inputs["model"].parameters()])
    out = {"loss": float(loss), "parameters after the step": params}
    if isinstance(state, tuple) and len(state) == 2:
        out["h"], out["c"] = state
    else:
        out["h"] = out["c"] = state
    return out


def _variant(change):
    def buggy(model, optimizer, inputs, targets, state, clip):
        return _call(lambda *a: change(*a), dict(model=model, optimizer=optimizer, inputs=inputs,
                                                 targets=targets, state=state, clip=clip))
    return buggy


def _without_state(model, optimizer, inputs, targets, state, clip):
    return training.train_step(model, optimizer, inputs, targets, None, clip)


def _without_zero_grad(model, optimizer, inputs, targets, state, clip):
    logits, state = model(inputs, state)
    loss, dlogits = model.loss(logits, targets)
    model.backward(dlogits)
    if clip:
        training.clip_grad_norm(model.parameters(), clip)
    optimizer.step()
    return loss, state


def _clip_after_step(model, optimizer, inputs, targets, state, clip):
    logits, state = model(inputs, state)
    loss, dlogits = model.loss(logits, targets)
    model.zero_grad()
    model.backward(dlogits)
    optimizer.step()
    return loss, state


def training_rung(fn) -> Rung:
    """Train over windows of a stream with the student's step, carrying the state: the library's
    losses step for step, and a loss that falls."""
    from ...optim import Adam  # noqa: PLC0415
    from ...nn import functional  # noqa: PLC0415
    from ...text import batchify, bptt_windows  # noqa: PLC0415

    x, y, V = sentence_batch()
    stream = np.concatenate([x[:, 0], x[:, 1]])
    data = batchify(stream, 2)

    def run(step):
        model = make_model(functional)
        optimizer = Adam(model.parameters(), lr=0.05)
        losses = []
        for epoch in range(12):
            state = None
            for inputs, targets in bptt_windows(data, 12):
                loss, state = step(model, optimizer, inputs, targets, state, 1.0)
                losses.append(float(loss))
        return losses

    theirs = run(training.train_step)
    mine = guarded(lambda: run(fn), seconds=120)
    problems = []
    for k, (a, b) in enumerate(zip(mine, theirs)):
        if not abs(a - b) <= 1e-8 * abs(b):
            problems.append(f"the loss leaves the library's at step {k + 1}: {a:.10f} against {b:.10f}")
            break
    if problems:
        return Rung("integration", FAIL, "training over windows with your train_step", problems)
    return Rung("integration", PASS, f"{len(mine)} windows over 12 epochs with your train_step: the "
                f"library's losses, from {mine[0]:.3f} (ln V = {math.log(V):.3f}) to {mine[-1]:.3f}")


TRAIN_STEP = Spec(
    "train_step", lambda: [Case(c[0], (lambda k=k: _inputs(k)), 1e-9) for k, c in enumerate(_CASES)],
    outputs=("loss", "h", "c", "parameters after the step"), call=_call,
    changes=("model", "optimizer"),
    bugs=(KnownBug("Pass the carried state into the model: model(inputs, state). It is what lets "
                   "the LSTM remember across windows (the gradient still stops at the window).",
                   mutant(_variant(_without_state), ("loss",))),
          KnownBug("Call model.zero_grad() before model.backward(): the layers *add* to .grad, so "
                   "the previous step's gradients would be added to this one's.",
                   mutant(_variant(_without_zero_grad), ("parameters after the step",))),
          KnownBug("Clip before optimizer.step(): clipping afterwards changes nothing that the "
                   "update used.",
                   mutant(_variant(_clip_after_step), ("parameters after the step",)))),
    integration=training_rung)

SPECS = {"train_step": TRAIN_STEP}
