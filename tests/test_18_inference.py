"""The inference path of the speed track (evaluation and generation, where no backward follows)
gives the numbers of the training forward: bit for bit where the arithmetic is the same, to
float64 rounding where a matrix-vector product replaces a matrix product."""
import numpy as np
import pytest

from scratchlstm import LSTMLanguageModel
from scratchlstm.generation import generate
from scratchlstm.nn import fast, functional
from scratchlstm.training import evaluate


def _lstm_args(rng, T, B, D, H, dtype):
    x = rng.standard_normal((T, B, D)).astype(dtype)
    h0, c0 = (rng.standard_normal((B, H)).astype(dtype) for _ in range(2))
    Wx = (rng.standard_normal((D, 4 * H)) * 0.3).astype(dtype)
    Wh = (rng.standard_normal((H, 4 * H)) * 0.3).astype(dtype)
    b = rng.standard_normal(4 * H).astype(dtype)
    return x, h0, c0, Wx, Wh, b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T, B, D, H", [(1, 1, 3, 4), (7, 3, 5, 6), (12, 2, 8, 3)])
def test_lstm_inference_is_the_forward_bit_for_bit(dtype, T, B, D, H):
    args = _lstm_args(np.random.default_rng(T * 100 + B), T, B, D, H, dtype)
    h0, c0 = args[1].copy(), args[2].copy()
    hs, (h_T, c_T), _ = fast.lstm_forward(*args)
    hs_i, (h_T_i, c_T_i) = fast.lstm_inference(*args, workspace={})
    np.testing.assert_array_equal(hs_i, hs)
    np.testing.assert_array_equal(h_T_i, h_T)
    np.testing.assert_array_equal(c_T_i, c_T)
    np.testing.assert_array_equal(args[1], h0)     # the initial state is not written to
    np.testing.assert_array_equal(args[2], c0)
    ref, (ref_h, ref_c), _ = functional.lstm_forward(*(a.astype(np.float64) for a in args))
    if dtype == np.float64:
        np.testing.assert_allclose(hs_i, ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(c_T_i, ref_c, rtol=1e-12, atol=1e-14)


def test_lstm_inference_checks_shapes():
    x, h0, c0, Wx, Wh, b = _lstm_args(np.random.default_rng(0), 3, 2, 4, 5, np.float32)
    with pytest.raises(ValueError, match=r"lstm_inference: Wh must have shape \(5, 20\)"):
        fast.lstm_inference(x, h0, c0, Wx, Wh[:, :8], b)


def test_cross_entropy_is_the_loss_of_softmax_cross_entropy():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((6, 4, 50)) * 5
    targets = rng.integers(0, 50, (6, 4))
    loss, _ = functional.softmax_cross_entropy(logits, targets)
    np.testing.assert_allclose(fast.cross_entropy(logits, targets), loss, rtol=1e-13)
    with pytest.raises(ValueError):
        fast.cross_entropy(logits, np.full((6, 4), 50))


def test_fast_affine_forward_is_the_reading_tracks():
    rng = np.random.default_rng(2)
    x, W, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((6, 5)).T, rng.standard_normal(6)
    y, cache = fast.affine_forward(x, W, b)
    y_ref, _ = functional.affine_forward(x, W, b)
    np.testing.assert_array_equal(y, y_ref)
    assert cache.W is W


def _model(tie, dtype="float64", layers=2):
    return LSTMLanguageModel(40, 6, 6, layers, dropout=0.3, tie_weights=tie, dtype=dtype, seed=3).eval()


@pytest.mark.parametrize("tie", [False, True])
def test_a_model_in_inference_gives_the_logits_of_eval_mode(tie):
    model = _model(tie, "float32")
    ids = np.random.default_rng(4).integers(0, 40, (9, 3))
    logits, (h, c) = model(ids)
    with model.inference():
        logits_i, (h_i, c_i) = model(ids)
    np.testing.assert_array_equal(logits_i, logits)
    np.testing.assert_array_equal(h_i, h)
    np.testing.assert_array_equal(c_i, c)


def test_inference_restores_every_modules_mode_and_keeps_no_cache():
    model = _model(False)
    model.train()
    ids = np.zeros((4, 2), dtype=np.int64)
    with model.inference():
        assert not any(m.training for m in model.modules())
        logits, _ = model(ids)
    assert all(m.training and m.keep_cache for m in model.modules())
    with pytest.raises(RuntimeError, match="inference"):
        model.lstm.layers[0].activations()
    with pytest.raises(RuntimeError, match="inference"):
        model.lstm.layers[0].backward(np.zeros((4, 2, 6)))
    model.eval()
    model(ids)                                  # outside inference(): the history is there again
    assert model.lstm.layers[0].activations()["c"].shape == (4, 2, 6)


def test_evaluate_matches_the_loss_of_plain_forward_passes():
    model = _model(True)
    ids = np.random.default_rng(5).integers(0, 40, 203)
    got = evaluate(model, ids, batch_size=4, bptt=7)
    from scratchlstm.text import batchify, bptt_windows  # noqa: PLC0415
    state, total, count = None, 0.0, 0
    for inputs, targets in bptt_windows(batchify(ids, 4), 7):
        logits, state = model(inputs, state)
        loss, _ = functional.softmax_cross_entropy(logits, targets)
        total += float(loss) * targets.size
        count += targets.size
    assert got == pytest.approx(total / count, rel=1e-12)


@pytest.mark.parametrize("tie, layers", [(False, 1), (True, 2), (False, 3)])
def test_the_batch_one_stepper_follows_forward_token_by_token(tie, layers):
    model = _model(tie, layers=layers)
    tokens = np.random.default_rng(6).integers(0, 40, 12)
    start = [s + 0.1 for s in model.init_state(1)]
    stepper = model.batch_one_stepper(start)
    state = start
    for token in tokens:
        logits, state = model(np.array([[token]]), state)
        np.testing.assert_allclose(stepper.step(int(token)), logits[0, 0], rtol=1e-12, atol=1e-13)
        for ours, theirs in zip(stepper.state, state):
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-13)


def test_the_stepper_refuses_a_wrong_state_and_other_cells():
    model = _model(False)
    with pytest.raises(ValueError, match=r"\(L, 1, H\)"):
        model.batch_one_stepper(model.init_state(2))
    gru = LSTMLanguageModel(40, 6, 6, 1, cell="gru", dtype="float64")
    assert gru.batch_one_stepper() is None
    reading = LSTMLanguageModel(40, 6, 6, 1, dtype="float64", functional="reading")
    assert reading.batch_one_stepper() is None


class _Chars:
    """The smallest tokenizer generation needs: one id per letter of a 40-letter alphabet."""
    alphabet = "".join(chr(ord("a") + k % 26) if k < 26 else str(k - 26)[-1] for k in range(40))

    def encode(self, text):
        return [self.alphabet.index(ch) for ch in text]

    def decode(self, ids):
        return "".join(self.alphabet[k] for k in ids)


def test_generation_writes_the_same_text_with_and_without_the_stepper(monkeypatch):
    model = _model(True)
    fast_text = generate(model, _Chars(), "abc", max_new_tokens=40, temperature=0.9, seed=7)
    monkeypatch.setattr(LSTMLanguageModel, "batch_one_stepper", lambda self, state=None: None)
    slow_text = generate(model, _Chars(), "abc", max_new_tokens=40, temperature=0.9, seed=7)
    assert fast_text == slow_text and len(fast_text) == 40
