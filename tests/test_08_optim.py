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


def test_adam_in_cache_sized_pieces_equals_adam_on_whole_arrays():
    """On the CPU, Adam updates big parameters in pieces of CPU_PIECE_SIZE elements (so that its
    dozen passes stay in the cache). Does cutting change the result? A (300, 500) matrix, 2.3
    pieces, non-contiguous (so never cut) versus contiguous, with the L2 penalty (Adam) and with
    decoupled decay (AdamW): after three steps both are identical, and equal the textbook update."""
    from scratchlstm.optim import CPU_PIECE_SIZE
    rng = numpy.random.default_rng(1)
    shape = (300, 500)
    assert CPU_PIECE_SIZE < 300 * 500 < 3 * CPU_PIECE_SIZE
    start = rng.standard_normal(shape)
    grads = rng.standard_normal((3, *shape))
    for make, decoupled in ((lambda ps: Adam(ps, lr=0.1, weight_decay=0.2), False),
                            (lambda ps: AdamW(ps, lr=0.1, weight_decay=0.2), True)):
        cut = Parameter(start.copy())
        whole = Parameter(numpy.asfortranarray(start.copy()))   # not C-contiguous: one piece
        assert not whole.data.flags.c_contiguous
        opt_cut, opt_whole = make([cut]), make([whole])
        theta, m, v = start.copy(), numpy.zeros(shape), numpy.zeros(shape)
        for t, g in enumerate(grads, start=1):
            cut.grad[...] = g
            whole.grad[...] = g
            opt_cut.step()
            opt_whole.step()
            if decoupled:
                theta = theta * (1 - 0.1 * 0.2)
            else:
                g = g + 0.2 * theta
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            theta = theta - 0.1 * (m / (1 - 0.9 ** t)) / (numpy.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
        assert numpy.array_equal(cut.data, whole.data)
        assert numpy.allclose(cut.data, theta, rtol=1e-9, atol=1e-12)
        assert numpy.array_equal(cut.grad, grads[-1])     # the L2 penalty did not touch p.grad


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


# ----------------------------------------------------------------------------------------------
# Exercises of lesson 8 (lessons/08_optimisation.ipynb)
# ----------------------------------------------------------------------------------------------
def test_exercise_8_1_the_largest_stable_learning_rate():
    """Exercise 8.1: on f(x) = kappa/2 x^2 gradient descent converges iff lr < 2 / kappa.

    The gradient is kappa x, so one step maps x to x - lr kappa x = (1 - lr kappa) x. Repeated
    steps multiply by (1 - lr kappa) each time: the iterates shrink iff |1 - lr kappa| < 1, i.e.
    0 < lr < 2 / kappa = 0.2 for kappa = 10. At lr = 0.19 the factor is -0.9 (shrinking while
    flipping sign); at lr = 0.21 it is -1.1 (growing while flipping sign).
    """
    kappa = 10.0

    def run(lr, steps=100):
        p = quadratic_param([1.0], 0.0)
        opt = SGD([p], lr=lr)
        for _ in range(steps):
            p.grad[...] = kappa * p.data
            opt.step()
        return abs(float(p.data[0]))

    assert run(0.19) < 1e-4
    assert run(0.21) > 1e3
    assert math.isclose(run(0.19, steps=1), 0.9) and math.isclose(run(0.21, steps=1), 1.1)


def test_exercise_8_2_momentum_reaches_a_terminal_velocity():
    """Exercise 8.2: with a constant gradient g, momentum's step tends to lr * g / (1 - mu).

    The buffer follows v_k = mu v_{k-1} + g, so v_k = g (1 + mu + ... + mu^(k-1)) = g (1 - mu^k) /
    (1 - mu), which tends to g / (1 - mu) = 10 g for mu = 0.9. Each step moves lr * v_k, so after
    many steps the parameter moves ten times as far per step as plain SGD would.
    """
    lr, g = 0.01, 2.0
    p = quadratic_param([0.0], g)
    opt = SGD([p], lr=lr, momentum=0.9)
    positions = [0.0]
    for _ in range(200):
        opt.step()                       # the gradient stays g
        positions.append(float(p.data[0]))
    last_step = positions[-1] - positions[-2]
    assert math.isclose(last_step, -10 * lr * g, rel_tol=1e-6)
    assert math.isclose(positions[1], -lr * g)          # the first step is plain SGD's


def test_exercise_8_3_adam_does_not_care_about_the_scale_of_the_loss():
    """Exercise 8.3: Adam on f and on 1000 f follows the same path (up to epsilon).

    Scaling the loss by s scales every gradient by s, so m scales by s and v by s^2; the update
    m_hat / (sqrt(v_hat) + eps) becomes s m_hat / (s sqrt(v_hat) + eps), which equals the original
    except for eps (1e-8, tiny next to gradients of order 1). Gradient descent, by contrast, takes
    1000x larger steps and would diverge at the same learning rate.
    """
    def path(scale):
        p = quadratic_param([-4.0, 1.5], 0.0)
        opt = Adam([p], lr=0.3)
        points = []
        for _ in range(60):
            p.grad[...] = scale * numpy.array([1.0, 20.0]) * p.data
            opt.step()
            points.append(p.data.copy())
        return numpy.array(points)

    assert numpy.allclose(path(1.0), path(1000.0), rtol=0, atol=1e-6)
    assert numpy.abs(path(1.0)).max() > 0.1                  # it really moved


def test_exercise_8_4_global_clipping_keeps_the_direction():
    """Exercise 8.4: clip_grad_norm scales all gradients by one factor; np.clip per entry does not.

    Global clipping multiplies every gradient by c / ||g|| (when ||g|| > c), so the concatenated
    gradient keeps its direction (cosine 1) and gets norm c. Entrywise clipping caps the large
    entries and leaves small ones, which tilts the vector towards the small components.
    """
    rng = numpy.random.default_rng(3)
    params = [quadratic_param(numpy.zeros(n), 0.0) for n in (4, 7, 2)]
    for p in params:
        p.grad[...] = rng.standard_normal(p.shape) * 10
    before = numpy.concatenate([p.grad.copy() for p in params])
    norm = clip_grad_norm(params, 1.5)
    after = numpy.concatenate([p.grad for p in params])

    def cosine(u, v):
        return float(u @ v / (numpy.linalg.norm(u) * numpy.linalg.norm(v)))

    assert math.isclose(norm, float(numpy.linalg.norm(before)))
    assert math.isclose(float(numpy.linalg.norm(after)), 1.5, rel_tol=1e-5)
    assert math.isclose(cosine(before, after), 1.0, rel_tol=1e-12)
    assert cosine(before, numpy.clip(before, -1.5, 1.5)) < 0.99


def test_exercise_8_5_min_delta_demands_a_real_improvement():
    """Exercise 8.5: patience 2, min_delta 0.1, losses 3.0, 2.95, 2.94, 2.93: stop after epoch 3.

    An epoch counts as an improvement only if its loss is below best - min_delta. Epoch 1 sets
    best = 3.0. Epochs 2 (2.95) and 3 (2.94) are lower, but not below 3.0 - 0.1 = 2.9, so they are
    'bad' epochs; after two of them patience is exhausted and should_stop is True after epoch 3.
    The best epoch stays 1: progress smaller than min_delta is treated as noise.
    """
    stop = EarlyStopping(patience=2, min_delta=0.1)
    stopped_after = None
    for epoch, loss in enumerate((3.0, 2.95, 2.94, 2.93), start=1):
        stop.update(loss)
        if stop.should_stop and stopped_after is None:
            stopped_after = epoch
    assert stopped_after == 3
    assert stop.best_epoch == 1 and stop.best == 3.0


def test_adam_weight_decay_leaves_the_gradient_alone():
    """Adam's L2 penalty changes the update, not ``p.grad``: after step() the gradient a user
    logs or clips is still the loss gradient."""
    p = quadratic_param([1.0, -2.0], [0.5, 0.25])
    Adam([p], lr=0.1, weight_decay=0.3).step()
    assert p.grad.tolist() == [0.5, 0.25]


# ----------------------------------------------------------------------------------------------
# The workbook ladder (optim.py): values, integration, for the library by default
# and for a student's workbook with `python -m pytest tests/ --workbook DIR`
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ('clip_grad_norm', 'sgd_step', 'adam_step'))
def test_ladder(ladder, name):
    ladder(name)


@pytest.mark.parametrize("make", ["SGD", "Adam", "AdamW", "NTASGD"])
@pytest.mark.parametrize("setting", [dict(lr=float("nan")), dict(lr=float("inf")), dict(lr=-1.0),
                                     dict(weight_decay=float("nan"))])
def test_optimizers_refuse_a_rate_that_is_not_a_finite_number(make, setting):
    """NaN slips through a plain "lr < 0" check; every optimizer refuses it when built, naming
    the setting, before one update could turn every weight into NaN."""
    import scratchlstm.optim as optim
    from scratchlstm.nn.module import Parameter

    name = next(iter(setting))
    with pytest.raises(ValueError, match="weight_decay" if name == "weight_decay" else "learning rate"):
        getattr(optim, make)([Parameter(numpy.zeros(3))], **setting)
