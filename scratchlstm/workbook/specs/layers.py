"""Specs of layers.py: affine, embedding, dropout, softmax cross-entropy."""
from __future__ import annotations

from ...backend import np
from ...gradcheck import numerical_gradient
from ...nn import functional as F
from ..integration import model_rung
from ..ladder import (Case, KnownBug, Spec, against_differences, compare_value, gradient_verdict,
                      guarded, mutant)
from .common import backward_cases, cache_rung, gradients, randn


def _upstream(k, outputs):
    """Random upstream gradients shaped (and typed) like the forward outputs."""
    return [randn(100 + k, o.shape, dtype=o.dtype) for o in outputs]


def _cases(labels, make):
    return lambda: [Case(label, (lambda k=k: make(k)), 1e-5 if "float32" in label else 1e-9)
                    for k, label in enumerate(labels)]


def _named(names):
    return lambda raw: dict(zip(names, raw if isinstance(raw, tuple) else (raw,)))


def bias_not_summed(db_name: str, upstream_name: str):
    """A detector: the bias gradient was not summed over every row (kept per row, averaged,
    or one row taken)."""
    def detect(case, got, want):
        dy = case.make()[upstream_name]
        width = want[db_name].shape[-1]
        rows = dy.reshape(-1, width) if upstream_name != "da" else dy
        db = got.get(db_name)
        if compare_value(db_name, db, want[db_name], 1e-7) is None:
            return False                      # db is right: the failure lies elsewhere
        shape = getattr(db, "shape", None)
        if shape is not None and shape != (width,) and shape[-1:] == (width,):
            return True
        return any(compare_value(db_name, db, alt, 1e-7) is None
                   for alt in (rows.mean(axis=0), rows[0], rows[-1]))
    return detect


BIAS_HINT = ("db must be summed over every row: the bias is added to each of the N = T*B rows, so "
             "each row sends its gradient back to it (dy.reshape(-1, M).sum(axis=0)). It has the "
             "shape of b.")

# ---------------------------------------------------------------------------------------------
# affine
# ---------------------------------------------------------------------------------------------
AFFINE_LABELS = ["x (4, 3), W (3, 5)", "x (2, 3, 4), W (4, 2)", "x (5, 6), W (6, 3), float32"]
_AFFINE_SHAPES = [((4, 3), (3, 5)), ((2, 3, 4), (4, 2)), ((5, 6), (6, 3))]


def _affine_inputs(k):
    xs, ws = _AFFINE_SHAPES[k]
    x, W, b = randn(10 + k, xs, ws, (ws[1],), dtype=np.float32 if k == 2 else np.float64)
    return dict(x=x, W=W, b=b)


_affine_grads = _named(("dx", "dW", "db"))
_affine_values, _affine_gradient_cases = backward_cases(
    F.affine_forward, _affine_inputs, _upstream, AFFINE_LABELS, lambda up, cache: dict(dy=up[0], cache=cache))

AFFINE_FORWARD = Spec(
    "affine_forward", _cases(AFFINE_LABELS, _affine_inputs), outputs=("y", "cache"),
    cache=cache_rung(_cases(AFFINE_LABELS, _affine_inputs), F.affine_backward, _upstream,
                     lambda bw, up, cache: _affine_grads(bw(up[0], cache)), "affine_backward"),
    bugs=(KnownBug("y = x W + b: add the bias b to every row.",
                   mutant(lambda x, W, b: ((x.reshape(-1, x.shape[-1]) @ W).reshape(*x.shape[:-1], -1), None),
                          ("y",))),),
    integration=lambda fn: model_rung("affine_forward", fn))

AFFINE_BACKWARD = Spec(
    "affine_backward", lambda: _affine_values, outputs=("dx", "dW", "db"),
    gradients=gradients(F.affine_forward, _affine_gradient_cases, {"x": "dx", "W": "dW", "b": "db"},
                        lambda fn, up, cache: _affine_grads(fn(up[0], cache))),
    bugs=(KnownBug(BIAS_HINT, bias_not_summed("db", "dy")),
          KnownBug("dx = dy W^T and dW = x^T dy: the transposes go on the other factor than in the "
                   "forward product.",
                   lambda case, got, want: getattr(got.get("dW"), "shape", None) not in (None, want["dW"].shape))),
    integration=lambda fn: model_rung("affine_backward", fn))

# ---------------------------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------------------------
EMBEDDING_LABELS = ["ids (6,) with repeats, W (5, 3)", "ids (3, 4), W (7, 2)", "ids (5,), W (4, 3), float32"]


def _embedding_inputs(k):
    ids = [np.array([3, 1, 3, 3, 0, 1]), np.random.default_rng(31).integers(0, 7, size=(3, 4)),
           np.array([2, 2, 0, 3, 2])][k]
    W = randn(30 + k, [(5, 3), (7, 2), (4, 3)][k], dtype=np.float32 if k == 2 else np.float64)
    return dict(ids=ids, W=W)


def _buffered_embedding_backward(dout, cache):
    """The classic bug: dW[ids] += dout (buffered: a repeated id keeps only one write)."""
    dW = np.zeros((cache.vocab_size, dout.shape[-1]), dtype=dout.dtype)
    dW[cache.ids] += dout
    return dW


_embedding_values, _embedding_gradient_cases = backward_cases(
    F.embedding_forward, _embedding_inputs, _upstream, EMBEDDING_LABELS,
    lambda up, cache: dict(dout=up[0], cache=cache))

EMBEDDING_FORWARD = Spec(
    "embedding_forward", _cases(EMBEDDING_LABELS, _embedding_inputs), outputs=("out", "cache"),
    cache=cache_rung(_cases(EMBEDDING_LABELS, _embedding_inputs), F.embedding_backward, _upstream,
                     lambda bw, up, cache: {"dW": bw(up[0], cache)}, "embedding_backward"),
    integration=lambda fn: model_rung("embedding_forward", fn))

EMBEDDING_BACKWARD = Spec(
    "embedding_backward", lambda: _embedding_values, outputs=("dW",),
    gradients=gradients(F.embedding_forward, _embedding_gradient_cases, {"W": "dW"},
                        lambda fn, up, cache: {"dW": fn(up[0], cache)}),
    bugs=(KnownBug("dW[ids] += dout loses repeated ids: NumPy's buffered indexing keeps one write "
                   "per row. Use the scatter-add np.add.at(dW, ids.reshape(-1), "
                   "dout.reshape(-1, D)), which adds every occurrence.",
                   mutant(_buffered_embedding_backward, ("dW",))),),
    integration=lambda fn: model_rung("embedding_backward", fn))

# ---------------------------------------------------------------------------------------------
# dropout
# ---------------------------------------------------------------------------------------------
DROPOUT_LABELS = ["x (4, 3, 5), p 0.3", "x (4, 3, 5), p 0.5, locked", "x (6, 4), p 0",
                  "x (3, 2, 8), p 0.25, float32"]
_DROPOUT = [((4, 3, 5), 0.3, False), ((4, 3, 5), 0.5, True), ((6, 4), 0.0, False), ((3, 2, 8), 0.25, False)]


def _dropout_inputs(k):
    shape, p, locked = _DROPOUT[k]
    x = randn(40 + k, shape, dtype=np.float32 if k == 3 else np.float64)
    return dict(x=x, p=p, rng=np.random.default_rng(41 + k), locked=locked)


def _valid_but_other_masks(case, got, want):
    """Valid inverted-dropout masks, drawn in another way than the library's."""
    inputs = case.make()
    mask, p = got.get("mask"), inputs["p"]
    if mask is None or p == 0:
        return False
    m = np.asarray(mask, dtype=np.float64)
    values = set(np.unique(np.round(m, 9)).tolist())
    return values <= {0.0, round(1.0 / (1.0 - p), 9)} and not np.array_equal(m, want["mask"])


DROPOUT_FORWARD = Spec(
    "dropout_forward", _cases(DROPOUT_LABELS, _dropout_inputs), outputs=("out", "mask"),
    bugs=(KnownBug("Scale the survivors: mask = keep / (1 - p). Inverted dropout keeps the expected "
                   "activation unchanged, so evaluation can skip dropout.",
                   mutant(lambda x, p, rng, locked: _unscaled(x, p, rng, locked), ("out",))),
          KnownBug("A locked mask has shape (1, B, D): one draw per sequence and unit, reused at "
                   "every time step.",
                   mutant(lambda x, p, rng, locked: F.dropout_forward(x, p, rng, False), ("out",))),
          KnownBug("Your masks are valid dropout masks, but not the grader's draw: use keep = "
                   "rng.random(mask_shape, dtype=x.dtype) >= p (one call, dtype included), so "
                   "that a seed gives the library's masks.", _valid_but_other_masks)),
    cache=cache_rung(_cases(DROPOUT_LABELS, _dropout_inputs), F.dropout_backward, _upstream,
                     lambda bw, up, mask: {"dx": bw(up[0], mask)}, "dropout_backward",
                     outputs=("out",), cache_name="mask"),
    integration=lambda fn: model_rung("dropout_forward", fn, dropout=0.1))


def _unscaled(x, p, rng, locked):
    """Dropout without the 1/(1-p): the expected activation shrinks."""
    if p == 0:
        return x, None
    shape = (1,) + x.shape[1:] if locked else x.shape
    keep = (rng.random(shape, dtype=x.dtype) >= p).astype(x.dtype)
    return x * keep, keep


def _seeded_dropout(x, p, seed, locked):
    """dropout_forward with its generator made from a seed: the same mask at every call, which
    central differences need."""
    return F.dropout_forward(x, p, np.random.default_rng(seed), locked)


def _dropout_backward_inputs(k):
    inputs = _dropout_inputs(k)
    return dict(x=inputs["x"], p=inputs["p"], seed=41 + k, locked=inputs["locked"])


_dropout_values, _dropout_gradient_cases = backward_cases(
    _seeded_dropout, _dropout_backward_inputs, _upstream, DROPOUT_LABELS,
    lambda up, mask: dict(dout=up[0], mask=mask))

DROPOUT_BACKWARD = Spec(
    "dropout_backward", lambda: _dropout_values, outputs=("dx",),
    gradients=gradients(_seeded_dropout, _dropout_gradient_cases, {"x": "dx"},
                        lambda fn, up, mask: {"dx": fn(up[0], mask)}),
    bugs=(KnownBug("Multiply dout by the mask: the units dropped in the forward pass get no gradient.",
                   mutant(lambda dout, mask: dout, ("dx",))),),
    integration=lambda fn: model_rung("dropout_backward", fn, dropout=0.1))

# ---------------------------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------------------------
CE_LABELS = ["logits (6, 5)", "logits (3, 2, 7)", "logits (4, 6) near 1000", "logits (5, 4), float32"]


def _ce_inputs(k):
    shapes = [(6, 5), (3, 2, 7), (4, 6), (5, 4)]
    logits = randn(50 + k, shapes[k], dtype=np.float32 if k == 3 else np.float64)
    if k == 2:
        logits = logits * 30 + 1000.0
    targets = np.random.default_rng(60 + k).integers(0, shapes[k][-1], size=shapes[k][:-1])
    return dict(logits=logits, targets=targets)


def _ce_mutant(transform):
    def buggy(logits, targets):
        loss, dlogits = F.softmax_cross_entropy(logits, targets)
        return transform(logits, targets, loss, dlogits)
    return buggy


def _rows(logits):
    return logits.reshape(-1, logits.shape[-1]).shape[0]


def _ce_gradients(fn, reference, spec):
    problems, worst = [], 0.0
    for case in spec.cases():
        if "float32" in case.label:
            continue
        inputs = case.make()
        got = guarded(spec.run, fn, inputs)
        logits, targets = inputs["logits"], inputs["targets"]
        numeric = numerical_gradient(lambda: F.softmax_cross_entropy(logits, targets)[0], logits, h=1e-6)
        worst = max(worst, against_differences(case.label, "dlogits", got.get("dlogits"), numeric, problems))
    return gradient_verdict(problems, worst, "dlogits is not the gradient of the mean loss")


def _overflowed(case, got, want):
    values = [np.asarray(v, dtype=np.float64) for v in got.values() if v is not None]
    return "1000" in case.label and any(not np.all(np.isfinite(v)) for v in values)


SOFTMAX_CROSS_ENTROPY = Spec(
    "softmax_cross_entropy", _cases(CE_LABELS, _ce_inputs), outputs=("loss", "dlogits"),
    gradients=_ce_gradients,
    bugs=(KnownBug("exp overflows for logits near 1000: subtract each row's maximum first (softmax "
                   "is unchanged), and take log softmax as z - max - log(sum(exp(z - max))).",
                   _overflowed),
          KnownBug("The loss is the *mean* over the N = T*B positions, and its gradient is divided by "
                   "N too.",
                   mutant(_ce_mutant(lambda z, y, loss, d: (loss * _rows(z), d * _rows(z))),
                          ("loss", "dlogits"))),
          KnownBug("dlogits = (softmax - onehot(targets)) / N: subtract 1 at each row's target.",
                   mutant(_ce_mutant(lambda z, y, loss, d: (loss, F.softmax(z) / _rows(z))),
                          ("dlogits",))),
          KnownBug("dlogits carries the 1/N of the mean: (softmax - onehot) / N.",
                   mutant(_ce_mutant(lambda z, y, loss, d: (loss, d * _rows(z))), ("dlogits",)))),
    integration=lambda fn: model_rung("softmax_cross_entropy", fn))

SPECS = {s.name: s for s in (AFFINE_FORWARD, AFFINE_BACKWARD, EMBEDDING_FORWARD, EMBEDDING_BACKWARD,
                             DROPOUT_FORWARD, DROPOUT_BACKWARD, SOFTMAX_CROSS_ENTROPY)}
