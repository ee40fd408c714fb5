"""Lesson 8 exercises: SGD, momentum, Adam, AdamW, clipping, schedules and early stopping."""
import math

import numpy
import pytest

from scratchlstm import (SGD, Adam, AdamW, EarlyStopping, EpochDecay, Parameter, ReduceLROnPlateau,
                         WarmupCosine, clip_grad_norm, grad_norm)


def quadratic_param(value, grad):
    p = Parameter(numpy.array(value, dtype=numpy.float64))
    p.grad[...] = grad
    return p


def test_sgd_step():
    """One SGD step with lr 0.1 on gradient [1, -2] moves [0, 0] to [-0.1, 0.2]."""
    p = quadratic_param([0.0, 0.0], [1.0, -2.0])
    SGD([p], lr=0.1).step()
    assert numpy.allclose(p.data, [-0.1, 0.2])


def test_sgd_momentum_accumulates_velocity():
    """With momentum 0.9 and a constant gradient 1, the steps are lr*1, lr*1.9, lr*2.71."""
    p = quadratic_param([0.0], [1.0])
    opt = SGD([p], lr=1.0, momentum=0.9)
    positions = []
    for _ in range(3):
        opt.step()
        positions.append(float(p.data[0]))
    assert numpy.allclose(numpy.diff([0.0] + positions), [-1.0, -1.9, -2.71])


def test_adam_first_step_has_size_lr():
    """Thanks to bias correction, Adam's first step is lr * sign(g) whatever the gradient scale."""
    for scale in (1e-2, 1.0, 1e6):     # large against eps = 1e-8
        p = quadratic_param([0.0, 0.0], [scale, -scale])
        Adam([p], lr=0.01).step()
        assert numpy.allclose(p.data, [-0.01, 0.01], rtol=1e-5)


def test_adam_matches_the_textbook_formula():
    """Three Adam steps computed here by the textbook equations equal the optimizer's result."""
    rng = numpy.random.default_rng(0)
    grads = rng.standard_normal((3, 4))
    p = quadratic_param(numpy.zeros(4), 0.0)
    opt = Adam([p], lr=0.1, betas=(0.8, 0.9), eps=1e-8)
    theta, m, v = numpy.zeros(4), numpy.zeros(4), numpy.zeros(4)
    for t, g in enumerate(grads, start=1):
        p.grad[...] = g
        opt.step()
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        theta = theta - 0.1 * (m / (1 - 0.8 ** t)) / (numpy.sqrt(v / (1 - 0.9 ** t)) + 1e-8)
    assert numpy.allclose(p.data, theta, rtol=1e-6)


def test_adamw_decays_weights_even_without_gradient():
    """AdamW's decay is decoupled: with g = 0, p shrinks by exactly (1 - lr * wd) per step."""
    p = quadratic_param([2.0], [0.0])
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    assert numpy.allclose(p.data, [2.0 * (1 - 0.05)])


def test_optimizers_minimise_a_quadratic():
    """Each optimizer drives f(x) = ||x - 3||^2 close to its minimum at x = 3."""
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.5), lambda ps: Adam(ps, lr=0.1),
                 lambda ps: AdamW(ps, lr=0.1, weight_decay=0.0)):
        p = quadratic_param([0.0, 10.0], 0.0)
        opt = make([p])
        for _ in range(500):
            p.grad[...] = 2 * (p.data - 3.0)
            opt.step()
        assert numpy.allclose(p.data, 3.0, atol=1e-2)


def test_clip_grad_norm_uses_the_global_norm():
    """Gradients [3] and [4] have global norm 5; clipping to 1 scales both by 1/5: [0.6], [0.8]."""
    a, b = quadratic_param([0.0], [3.0]), quadratic_param([0.0], [4.0])
    total = clip_grad_norm([a, b], 1.0)
    assert math.isclose(total, 5.0)
    assert numpy.allclose([a.grad[0], b.grad[0]], [0.6, 0.8], atol=1e-6)
    assert math.isclose(grad_norm([a, b]), 1.0, rel_tol=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    """A gradient already shorter than max_norm is not changed."""
    a = quadratic_param([0.0, 0.0], [0.3, 0.4])
    clip_grad_norm([a], 5.0)
    assert numpy.allclose(a.grad, [0.3, 0.4])


def test_reduce_lr_on_plateau():
    """With patience 1, two epochs without improvement halve the learning rate."""
    p = quadratic_param([0.0], [0.0])
    opt = SGD([p], lr=1.0)
    sched = ReduceLROnPlateau(opt, factor=0.5, patience=1)
    for loss in (5.0, 4.0, 4.5, 4.2):
        sched.step(loss)
    assert opt.lr == 0.5


def test_epoch_decay_is_zarembas_schedule():
    """lr 1 halved after every epoch from epoch 4: epochs 1..6 end with lr 1, 1, 1, .5, .25, .125."""
    opt = SGD([quadratic_param([0.0], [0.0])], lr=1.0)
    sched = EpochDecay(opt, start_epoch=4, factor=0.5)
    lrs = []
    for epoch in range(1, 7):
        sched.step(epoch)
        lrs.append(opt.lr)
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.25, 0.125]


def test_warmup_cosine_shape():
    """Warm-up rises linearly to the base lr, then cosine decays to min_lr at the last step."""
    opt = SGD([quadratic_param([0.0], [0.0])], lr=1.0)
    sched = WarmupCosine(opt, total_steps=100, warmup_steps=10, min_lr=0.1)
    lrs = [opt.lr]
    for _ in range(100):
        sched.step()
        lrs.append(opt.lr)
    assert math.isclose(lrs[0], 0.1) and math.isclose(lrs[9], 1.0)
    assert math.isclose(lrs[55], 0.1 + 0.45 * (1 + math.cos(math.pi * 0.5)))
    assert math.isclose(lrs[100], 0.1)


def test_early_stopping():
    """Patience 2: the best loss is at epoch 2; epochs 3 and 4 are worse, so training stops."""
    stop = EarlyStopping(patience=2)
    flags = [stop.update(loss) for loss in (3.0, 2.0, 2.5, 2.1)]
    assert flags == [True, True, False, False]
    assert stop.should_stop and stop.best_epoch == 2 and stop.best == 2.0


def test_optimizer_state_round_trip():
    """An Adam restored from state_dict continues exactly like the original."""
    rng = numpy.random.default_rng(1)
    p1 = quadratic_param(rng.standard_normal(5), 0.0)
    p2 = quadratic_param(p1.data.copy(), 0.0)
    o1 = Adam([p1], lr=0.05)
    for _ in range(3):
        p1.grad[...] = rng.standard_normal(5)
        o1.step()
    p2.data[...] = p1.data
    o2 = Adam([p2], lr=0.05)
    o2.load_state_dict(o1.state_dict())
    g = rng.standard_normal(5)
    p1.grad[...] = g
    p2.grad[...] = g
    o1.step()
    o2.step()
    assert numpy.array_equal(p1.data, p2.data)
    with pytest.raises(ValueError, match="SGD"):
        SGD([p2]).load_state_dict(o1.state_dict())
