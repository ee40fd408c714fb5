"""AWD-LSTM's regularisers: every gradient by central differences (float64), and what each mask
does."""
import numpy
import pytest

from scratchlstm.gradcheck import check_function, numerical_gradient, relative_error
from scratchlstm.nn import functional as F
from scratchlstm.nn import regularisers as R


@pytest.mark.parametrize("reg, coef", [(R.activation_regularisation, 2.0),
                                       (R.temporal_activation_regularisation, 1.0)])
def test_ar_and_tar_gradients(rng, reg, coef):
    hs = rng.standard_normal((6, 3, 4))
    loss, dhs = reg(hs, coef)
    numeric = numerical_gradient(lambda: reg(hs, coef)[0], hs, h=1e-6)
    assert relative_error(dhs, numeric) < 1e-8
    assert float(loss) > 0


def test_tar_is_zero_for_a_constant_sequence_and_ar_scales_with_alpha(rng):
    constant = numpy.repeat(rng.standard_normal((1, 2, 3)), 5, axis=0)
    assert float(R.temporal_activation_regularisation(constant, 3.0)[0]) == 0.0
    hs = rng.standard_normal((4, 2, 3))
    assert numpy.isclose(float(R.activation_regularisation(hs, 2.0)[0]),
                         2 * float(R.activation_regularisation(hs, 1.0)[0]))


def test_weight_drop_through_an_lstm_layer(rng):
    """The gradient with respect to Wh, through the dropped matrix, for a whole LSTM window: the
    same mask at every step."""
    T, B, D, H = 5, 2, 3, 4
    x, h0, c0 = rng.standard_normal((T, B, D)), rng.standard_normal((B, H)), rng.standard_normal((B, H))
    Wx, Wh, b = rng.standard_normal((D, 4 * H)) * 0.5, rng.standard_normal((H, 4 * H)) * 0.5, rng.standard_normal(4 * H)

    def forward(Wh):
        dropped, mask = R.weight_drop_forward(Wh, 0.4, numpy.random.default_rng(3))
        hs, _, cache = F.lstm_forward(x, h0, c0, Wx, dropped, b)
        return hs, (cache, mask)

    def backward(dhs, cache):
        lstm_cache, mask = cache
        return (R.weight_drop_backward(F.lstm_backward(dhs, lstm_cache)[4], mask),)

    assert check_function(forward, backward, [Wh]).worst < 1e-7
    _, mask = R.weight_drop_forward(Wh, 0.4, numpy.random.default_rng(3))
    assert set(numpy.unique(mask)) <= {0.0, 1 / 0.6}


def test_embedding_dropout_drops_whole_words(rng):
    V, D = 8, 5
    W = rng.standard_normal((V, D))
    dropped, mask = R.embedding_dropout_forward(W, 0.5, numpy.random.default_rng(0))
    gone = numpy.flatnonzero(mask[:, 0] == 0)
    assert 0 < gone.size < V
    assert numpy.all(dropped[gone] == 0) and numpy.allclose(dropped[mask[:, 0] > 0], 2 * W[mask[:, 0] > 0])
    ids = numpy.array([[gone[0], gone[0]], [gone[0], 1]])
    out, _ = F.embedding_forward(ids, dropped)
    assert numpy.all(out[ids == gone[0]] == 0)            # the word is gone everywhere it occurs

    def forward(W):
        d, m = R.embedding_dropout_forward(W, 0.5, numpy.random.default_rng(0))
        out, cache = F.embedding_forward(ids, d)
        return out, (cache, m)

    def backward(dout, cache):
        return (R.embedding_dropout_backward(F.embedding_backward(dout, cache[0]), cache[1]),)

    assert check_function(forward, backward, [W]).worst < 1e-7


def test_a_model_with_every_awd_regulariser_passes_the_gradient_check(rng):
    """Weight drop, embedding dropout, locked dropout at three rates, AR and TAR together: every
    parameter's gradient (of the cross-entropy plus AR and TAR) by central differences. (Weights
    of U(-0.5, 0.5) give gradients large enough for a relative error of 1e-6 to mean something.)"""
    from scratchlstm import LSTMLanguageModel, check_model

    model = LSTMLanguageModel(13, 8, 8, num_layers=2, dropout=0.3, input_dropout=0.2,
                              hidden_dropout=0.25, embedding_dropout=0.2, weight_drop=0.4,
                              ar_alpha=2.0, tar_beta=1.0, locked_dropout=True, tie_weights=True,
                              dtype="float64", seed=3, init="uniform", init_range=0.5)
    ids, targets = rng.integers(0, 13, (6, 3)), rng.integers(0, 13, (6, 3))
    result = check_model(model, ids, targets, max_checks=30)
    assert result.worst < 1e-6, str(result)
    assert model.regularisation_loss() > 0
    model.eval()
    model(ids)
    assert model.regularisation_loss() == 0.0          # evaluation: no regulariser, no dropout


def test_regularisers_leave_the_dropout_masks_of_a_plain_model_unchanged(rng):
    """Adding weight drop does not move the masks of the ordinary dropout layers."""
    from scratchlstm import LSTMLanguageModel

    ids = rng.integers(0, 11, (5, 2))
    plain = LSTMLanguageModel(11, 6, 6, 2, dropout=0.5, seed=1)
    awd = LSTMLanguageModel(11, 6, 6, 2, dropout=0.5, seed=1, weight_drop=0.3)
    for m in (plain, awd):
        m.seed_dropout(7)
        m(ids)
    assert numpy.array_equal(plain.drop_in._mask, awd.drop_in._mask)
    assert awd.lstm.layers[0]._wh_mask is not None and plain.lstm.layers[0]._wh_mask is None


def test_ntasgd_switches_only_when_the_loss_fails_to_beat_an_old_best():
    from scratchlstm.nn.module import Parameter
    from scratchlstm.optim import NTASGD

    opt = NTASGD([Parameter(numpy.zeros(2))], lr=1.0, nonmono=2)
    # improving, then a bad epoch that still beats the loss from 3 epochs back: no switch
    assert [opt.epoch_end(v) for v in (5.0, 4.0, 3.0, 3.5, 3.2)] == [False] * 5
    assert not opt.averaging
    # worse than the best of the epochs more than 2 back (3.0): averaging switches on, once
    assert opt.epoch_end(3.1) is True and opt.averaging and opt.switched_at_epoch == 6
    assert opt.epoch_end(10.0) is False


def test_ntasgd_average_after_switches_a_still_improving_run_at_that_epoch():
    from scratchlstm.nn.module import Parameter
    from scratchlstm.optim import NTASGD

    opt = NTASGD([Parameter(numpy.zeros(2))], lr=1.0, nonmono=2, average_after=3)
    # the loss keeps falling, so the non-monotone rule never fires; the backstop does, after epoch 3
    assert [opt.epoch_end(v) for v in (5.0, 4.0, 3.0, 2.0)] == [False, False, True, False]
    assert opt.averaging and opt.switched_at_epoch == 3 and "average_after=3" in opt.switch_reason
    # the trigger still fires earlier when the loss stalls first
    early = NTASGD([Parameter(numpy.zeros(2))], lr=1.0, nonmono=1, average_after=10)
    assert [early.epoch_end(v) for v in (5.0, 4.0, 6.0)] == [False, False, True]
    assert early.switch_reason == "validation stopped improving"
    with pytest.raises(ValueError, match="average_after"):
        NTASGD([Parameter(numpy.zeros(2))], average_after=0)


def test_ntasgd_averages_the_iterates_since_the_switch_and_resumes_exactly(rng):
    from scratchlstm.nn.module import Parameter
    from scratchlstm.optim import NTASGD

    def run(steps, opt=None, p=None, grads=None):
        for g in grads[:steps]:
            p.grad = g.copy()
            opt.step()
        return opt, p

    grads = [rng.standard_normal(3) for _ in range(6)]
    p = Parameter(numpy.ones(3))
    opt = NTASGD([p], lr=0.1, nonmono=1)
    opt.averaging = True                                   # as if triggered before these steps
    iterates = []
    for g in grads:
        p.grad = g.copy()
        opt.step()
        iterates.append(p.data.copy())
    assert numpy.allclose(opt.state["average"][0], numpy.mean(iterates, axis=0), atol=1e-14)
    current = p.data.copy()
    with opt.averaged():
        assert numpy.allclose(p.data, numpy.mean(iterates, axis=0))
    assert numpy.array_equal(p.data, current)              # back to the iterate, training goes on
    # resume from a state dict after 3 steps: the same average and weights as one run of 6
    p2 = Parameter(numpy.ones(3))
    first = NTASGD([p2], lr=0.1, nonmono=1)
    first.averaging = True
    run(3, first, p2, grads)
    p3 = Parameter(p2.data.copy())
    resumed = NTASGD([p3], lr=0.1, nonmono=1)
    resumed.load_state_dict(first.state_dict())
    run(3, resumed, p3, grads[3:])
    assert numpy.allclose(p3.data, p.data, atol=1e-14)
    assert numpy.allclose(resumed.state["average"][0], opt.state["average"][0], atol=1e-14)


# ----------------------------------------------------------------------------------------------
# NT-ASGD and variable BPTT inside the Trainer
# ----------------------------------------------------------------------------------------------
_TEXT = "the cat sat on the mat. the dog sat on the log. a bird sang in the tree. " * 30

#: validation losses by epoch: epoch 4 fails to beat the best of more than one epoch before
#: (2.0, epoch 2), so averaging starts there; epoch 5 is the best
_SCRIPTED_VALID = {1: 3.0, 2: 2.0, 3: 2.5, 4: 2.6, 5: 1.5}


def _awd_setup():
    from scratchlstm import LSTMLanguageModel  # noqa: PLC0415
    from scratchlstm.text import CharTokenizer  # noqa: PLC0415

    tok = CharTokenizer().fit(_TEXT)
    ids = numpy.array(tok.encode(_TEXT))
    n = len(ids)
    data = {"train": ids[:int(0.8 * n)], "valid": ids[int(0.8 * n):int(0.9 * n)], "test": ids[int(0.9 * n):]}
    model = LSTMLanguageModel(tok.vocab_size, 8, 8, 2, dropout=0.1, weight_drop=0.2, seed=1)
    return model, tok, data


_AWD_CONFIG = dict(epochs=5, batch_size=4, eval_batch_size=2, bptt=10, variable_bptt=True,
                   optimizer="ntasgd", lr=2.0, nonmono=1, progress=False, max_steps_per_epoch=4)


@pytest.fixture
def scripted_validation(monkeypatch):
    """The Trainer's validation loss follows _SCRIPTED_VALID; each call records whether the
    model held the averaged weights at that moment."""
    from scratchlstm.training import Trainer  # noqa: PLC0415

    real = Trainer._evaluate
    seen = []

    def evaluate(self, split, desc=None):
        if split != "valid" or desc is not None:
            return real(self, split, desc)
        average = self.optimizer.state["average"]
        held = bool(self.optimizer.averaging) and all(
            numpy.array_equal(p.data, a) for p, a in zip(self.optimizer.params, average))
        seen.append((self.epoch, held))
        return _SCRIPTED_VALID[self.epoch]

    monkeypatch.setattr(Trainer, "_evaluate", evaluate)
    return seen


def test_the_trainer_switches_ntasgd_and_judges_and_keeps_the_averaged_weights(tmp_path, scripted_validation):
    from scratchlstm.checkpoint import load_checkpoint  # noqa: PLC0415
    from scratchlstm.training import Trainer  # noqa: PLC0415

    model, tok, data = _awd_setup()
    lines = []
    trainer = Trainer(model, data, _AWD_CONFIG, tokenizer=tok, out_dir=tmp_path, log=lines.append)
    trainer.fit()
    assert [row["averaging"] for row in trainer.history] == [False, False, False, True, True]
    assert any("epoch 4: validation stopped improving" in line for line in lines)
    assert trainer.optimizer.switched_at_epoch == 4
    # epochs 1-4 are judged by their own weights; epoch 5 by the average of its steps
    assert scripted_validation == [(1, False), (2, False), (3, False), (4, False), (5, True)]
    assert trainer.best_epoch == 5
    best = load_checkpoint(tmp_path / "best.npz")
    last = load_checkpoint(tmp_path / "last.npz")
    average = dict(zip((name for name, _ in model.named_parameters()), trainer.optimizer.state["average"]))
    for name, value in average.items():
        numpy.testing.assert_array_equal(best.model_state()[name], value)      # kept: the average
    assert any(not numpy.array_equal(last.model_state()[name], value)          # resumes: the iterate
               for name, value in average.items())


def test_an_ntasgd_run_resumes_exactly_after_the_switch(tmp_path, scripted_validation):
    from scratchlstm.training import Trainer  # noqa: PLC0415

    model, tok, data = _awd_setup()
    straight = Trainer(model, data, _AWD_CONFIG, tokenizer=tok, log=None)
    straight.fit()
    model, tok, data = _awd_setup()
    Trainer(model, data, dict(_AWD_CONFIG, epochs=4), tokenizer=tok, out_dir=tmp_path, log=None).fit()
    resumed = Trainer.resume(tmp_path / "last.npz", data, log=None, epochs=5)
    assert resumed.optimizer.averaging and resumed.optimizer.valid_losses == [3.0, 2.0, 2.5, 2.6]
    resumed.fit()
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-6)
    for a, b in zip(straight.optimizer.state["average"], resumed.optimizer.state["average"], strict=True):
        numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_resume_applies_a_new_average_after_or_nonmono(tmp_path, scripted_validation):
    """The checkpoint restores NT-ASGD's settings; one given again on resume replaces them (as
    --lr does), so a run can be told to average sooner without starting over."""
    from scratchlstm.training import Trainer  # noqa: PLC0415

    model, tok, data = _awd_setup()
    config = dict(_AWD_CONFIG, nonmono=3)      # the scripted losses never trigger at interval 3
    Trainer(model, data, dict(config, epochs=2), tokenizer=tok, out_dir=tmp_path, log=None).fit()
    kept = Trainer.resume(tmp_path / "last.npz", data, log=None, epochs=5)
    assert (kept.optimizer.nonmono, kept.optimizer.average_after) == (3, None)
    resumed = Trainer.resume(tmp_path / "last.npz", data, log=None, epochs=5, average_after=3, nonmono=4)
    assert (resumed.optimizer.nonmono, resumed.optimizer.average_after) == (4, 3)
    lines = []
    resumed.log = lines.append
    resumed.fit()
    assert resumed.optimizer.switched_at_epoch == 3
    assert any("epoch 3: the run reached average_after=3 epochs, so NTASGD averages" in line for line in lines)
    assert [row["averaging"] for row in resumed.history] == [False, False, True, True, True]


def test_variable_bptt_scales_the_step_by_the_window_length(monkeypatch):
    from scratchlstm.training import Trainer  # noqa: PLC0415

    model, tok, data = _awd_setup()
    trainer = Trainer(model, data, dict(_AWD_CONFIG, epochs=1, max_steps_per_epoch=12), tokenizer=tok, log=None)
    seen = []
    step = trainer.optimizer.step
    monkeypatch.setattr(trainer.optimizer, "step", lambda: (seen.append(trainer.optimizer.lr), step()))
    lengths = []
    train_step = trainer.train_step
    monkeypatch.setattr(trainer, "train_step",
                        lambda inputs, targets: (lengths.append(inputs.shape[0]), train_step(inputs, targets))[1])
    trainer.train_epoch()
    assert len(set(lengths)) > 1                                 # the lengths did vary
    assert seen == pytest.approx([2.0 * n / 10 for n in lengths])
    assert trainer.optimizer.lr == 2.0                           # and the rate is restored


# ---------------------------------------------------------------------------------------------
# Lesson 16 exercises (worked solutions)
# ---------------------------------------------------------------------------------------------
def test_exercise_16_1_weight_drop_is_unbiased():
    """E[W * mask] = W because mask = keep / (1 - p) and E[keep] = 1 - p; the mean over n masks
    approaches W with an error that falls like 1 / sqrt(n)."""
    W = numpy.random.default_rng(0).standard_normal((8, 32))
    rng = numpy.random.default_rng(1)

    def error_of_mean(n):
        mean = sum(R.weight_drop_forward(W, 0.4, rng)[0] for _ in range(n)) / n
        return float(numpy.abs(mean - W).mean())

    small, large = error_of_mean(100), error_of_mean(1600)
    assert 2.5 < small / large < 6.5          # 16x the masks: about 4x smaller error


def test_exercise_16_2_tar_gradient_at_the_window_ends():
    """Inside the window h_t is in two differences, at the ends in one: dL/dh_0 = -2b d_1 / N and
    dL/dh_{T-1} = 2b d_{T-1} / N. With all states equal but h_k = 1, only h_{k-1}, h_k and h_{k+1}
    get a gradient: -2b/N, 4b/N, -2b/N (and at an end, only one neighbour)."""
    T, B, H, beta = 6, 1, 1, 0.5
    N = (T - 1) * B * H
    for k, expected in ((3, {2: -1.0, 3: 2.0, 4: -1.0}), (0, {0: 1.0, 1: -1.0}), (T - 1, {T - 2: -1.0, T - 1: 1.0})):
        hs = numpy.zeros((T, B, H))
        hs[k] = 1.0
        _, grad = R.temporal_activation_regularisation(hs, beta)
        want = numpy.zeros(T)
        for t, v in expected.items():
            want[t] = 2 * beta / N * v
        assert numpy.allclose(grad[:, 0, 0], want)


def test_exercise_16_3_when_ntasgd_starts_averaging():
    """nonmono=2: never. Epoch 4 (4.9) is worse than epoch 3, but not worse than the best of the
    epochs more than 2 back (epoch 1: 6.0); epoch 5 (4.85) is not worse than the best of epochs
    1-2 (5.0), and epoch 6 (4.79) not worse than that of epochs 1-3 (4.8). nonmono=1: epoch 5,
    whose 4.85 is worse than the best of epochs 1-3 (4.8)."""
    from scratchlstm.nn.module import Parameter
    from scratchlstm.optim import NTASGD

    losses = (6.0, 5.0, 4.8, 4.9, 4.85, 4.79)
    two = NTASGD([Parameter(numpy.zeros(1))], nonmono=2)
    assert not any(two.epoch_end(v) for v in losses) and two.switched_at_epoch is None
    one = NTASGD([Parameter(numpy.zeros(1))], nonmono=1)
    assert [one.epoch_end(v) for v in losses] == [False, False, False, False, True, False]
    assert one.switched_at_epoch == 5
