"""Workbook: One step of truncated backpropagation through time (lesson 9).

Write train_step.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
# Use the library's clipping here, or paste your own from optim.py.
from scratchlstm.optim import clip_grad_norm


def train_step(model, optimizer, inputs, targets, state=None, clip=None):
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
    logits, state = model(inputs)                    # BUG: the carried state is not passed in
    loss, dlogits = model.loss(logits, targets)
    model.zero_grad()
    model.backward(dlogits)
    if clip:
        clip_grad_norm(model.parameters(), clip)
    optimizer.step()
    return loss, state
