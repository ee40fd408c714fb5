"""Workbook: Optimisation: global-norm clipping, SGD with momentum, Adam (lesson 8).

Write clip_grad_norm, sgd_step, adam_step.
Check them with `python -m scratchlstm workbook check <this folder>`.
"""
import math

import numpy as np


def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    Clipping by the *global* norm keeps the direction of the whole update and only shortens it
    (Pascanu et al. 2013). Call it after every ``backward`` (tied weights already hold their
    summed gradient) and before ``optimizer.step()``.

    Parameters
    ----------
    params : list of Parameter (anything with a ``.grad`` array), or a Module; the gradients
        are scaled in place
    max_norm : float > 0

    Returns
    -------
    float : the norm *before* clipping (useful to log; inf/nan signals a diverged step)
    """
    total = 0.0
    for p in params:
        norm = math.sqrt(float((p.grad ** 2).sum()))
        total += norm ** 2
        if norm > max_norm:
            p.grad *= max_norm / (norm + 1e-6)     # BUG: each tensor clipped by its own norm
    return math.sqrt(total)


def sgd_step(param, grad, velocity, lr, momentum=0.0):
    """One step of SGD with momentum, in place (PyTorch's convention).

    .. math::  v \\leftarrow \\mu v + g, \\qquad \\theta \\leftarrow \\theta - \\eta v

    With ``momentum = 0`` the velocity is just the gradient and this is plain SGD.

    Parameters
    ----------
    param : (...) float array, updated in place
    grad : array of the same shape, the gradient
    velocity : array of the same shape, the running velocity (zeros before the first step),
        updated in place
    lr : float, the learning rate :math:`\\eta`
    momentum : float in [0, 1), :math:`\\mu`
    """
    # Compute: velocity = momentum * velocity + grad; param = param - lr * velocity, both in place.
    # Hint: In place means `param -= ...` (or param[...] = ...): `param = param - ...` makes a new
    #       array and leaves the caller's untouched.
    raise NotImplementedError("sgd_step is not written yet")


def adam_step(param, grad, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-08):
    """One Adam step, in place (Kingma & Ba 2015).

    .. math::
        m &\\leftarrow \\beta_1 m + (1 - \\beta_1) g, \\qquad
        v \\leftarrow \\beta_2 v + (1 - \\beta_2) g^2 \\\\
        \\hat m &= m / (1 - \\beta_1^t), \\qquad \\hat v = v / (1 - \\beta_2^t), \\qquad
        \\theta \\leftarrow \\theta - \\eta \\, \\hat m / (\\sqrt{\\hat v} + \\epsilon)

    The moments start at zero, so early on they are biased towards zero; dividing by
    :math:`1 - \\beta^t` removes that bias (at t = 1, :math:`\\hat m = g` exactly).

    Parameters
    ----------
    param : (...) float array, updated in place
    grad : array of the same shape
    m, v : arrays of the same shape, the first and second moments (zeros before step 1), updated
        in place
    t : int >= 1, the number of this step
    lr : float; beta1, beta2 : floats in [0, 1); eps : float
    """
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad ** 2
    param -= lr * m / (np.sqrt(v) + eps)            # BUG: no bias corrections
