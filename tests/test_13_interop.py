"""Lesson 13 exercises: the same model in PyTorch. Our logits, loss and every gradient must agree
with torch.nn.LSTM in float64 to round-off (relative error < 1e-9)."""
import numpy
import pytest

from scratchlstm import LSTMLanguageModel, relative_error, softmax_cross_entropy
from scratchlstm.interop import (build_torch_model, from_torch_state_dict, to_numpy_state_dict,
                                 to_torch_state_dict)

torch = pytest.importorskip("torch")


def ours_and_torch(tie_weights, num_layers=2):
    model = LSTMLanguageModel(13, 8, 8, num_layers, tie_weights=tie_weights, dtype="float64", seed=3).eval()
    return model, build_torch_model(model).eval()


@pytest.mark.parametrize("tie_weights", [False, True])
def test_logits_loss_and_gradients_match_pytorch(rng, tie_weights):
    """Same weights, same tokens: logits, loss, final state and all gradients agree with PyTorch."""
    model, tmodel = ours_and_torch(tie_weights)
    ids, targets = rng.integers(0, 13, (6, 4)), rng.integers(0, 13, (6, 4))
    state = tuple(rng.standard_normal((2, 4, 8)) for _ in range(2))

    logits, (h, c) = model(ids, state)
    loss, dlogits = softmax_cross_entropy(logits, targets)
    model.zero_grad()
    model.backward(dlogits)

    tlogits, (th, tc) = tmodel(torch.from_numpy(ids), tuple(torch.from_numpy(s) for s in state))
    tloss = torch.nn.functional.cross_entropy(tlogits.reshape(-1, 13), torch.from_numpy(targets).reshape(-1))
    tloss.backward()

    assert relative_error(logits, tlogits.detach().numpy()) < 1e-9
    assert abs(float(loss) - tloss.item()) < 1e-12
    assert relative_error(h, th.detach().numpy()) < 1e-9 and relative_error(c, tc.detach().numpy()) < 1e-9
    tgrads = {name: p.grad.numpy() for name, p in tmodel.named_parameters()}
    assert relative_error(model.embedding.weight.grad, tgrads["embedding.weight"]) < 1e-9
    for k, layer in enumerate(model.lstm.layers):
        assert relative_error(layer.Wx.grad, tgrads[f"lstm.weight_ih_l{k}"].T) < 1e-9
        assert relative_error(layer.Wh.grad, tgrads[f"lstm.weight_hh_l{k}"].T) < 1e-9
        # our single bias b = bias_ih + bias_hh, so its gradient equals either torch bias gradient
        assert relative_error(layer.b.grad, tgrads[f"lstm.bias_ih_l{k}"]) < 1e-9
    if not tie_weights:
        assert relative_error(model.decoder.weight.grad, tgrads["decoder.weight"].T) < 1e-9
    assert relative_error(model.decoder.bias.grad, tgrads["decoder.bias"]) < 1e-9


def test_import_from_pytorch():
    """A PyTorch-trained state dict (two biases per layer) loads into an equivalent model."""
    torch.manual_seed(0)
    model, tmodel = ours_and_torch(False)
    with torch.no_grad():
        for name, p in tmodel.named_parameters():
            p.uniform_(-0.3, 0.3)          # "trained" weights, both biases non-zero
    ours = from_torch_state_dict(tmodel.state_dict(), dtype="float64")
    ids = numpy.arange(12).reshape(4, 3) % 13
    assert relative_error(ours(ids)[0], tmodel(torch.from_numpy(ids))[0].detach().numpy()) < 1e-9


def test_export_layout():
    """PyTorch keeps weights as (out, in): weight_ih_l0 is (4H, E) = (32, 8), bias_hh is zeros."""
    model, _ = ours_and_torch(False)
    sd = to_numpy_state_dict(model)
    assert sd["lstm.weight_ih_l0"].shape == (32, 8)
    assert sd["decoder.weight"].shape == (13, 8)
    assert not sd["lstm.bias_hh_l1"].any()
    assert set(to_torch_state_dict(model)) == set(sd)


# ---------------------------------------------------------------------------------------------
# Lesson 13 exercises (worked solutions)
# ---------------------------------------------------------------------------------------------
def test_exercise_13_1_linear_layout():
    """Exercise 13.1: torch.nn.Linear(H, V) computes y = x W^T + b with W of shape (V, H). Copy
    its weights into a scratchlstm Linear and show both give the same output.

    Our Linear stores W as (in_features, out_features) = (H, V) and computes x W, so the copy is
    the transpose: x (W_torch^T) + b is literally the same expression.
    """
    from scratchlstm import Linear

    H, V = 6, 11
    torch.manual_seed(0)
    tlin = torch.nn.Linear(H, V).double()
    assert tuple(tlin.weight.shape) == (V, H)
    ours = Linear(H, V, dtype="float64")
    ours.load_state_dict({"weight": tlin.weight.detach().numpy().T, "bias": tlin.bias.detach().numpy()})
    x = numpy.random.default_rng(0).normal(size=(4, 3, H))
    assert relative_error(ours(x), tlin(torch.from_numpy(x)).detach().numpy()) < 1e-14


def test_exercise_13_2_the_bias_split_is_not_identifiable():
    """Exercise 13.2: move any vector d from bias_ih to bias_hh: the outputs do not change, and
    from_torch_state_dict gives the same scratchlstm model either way.

    The two biases only ever appear as the sum b_ih + b_hh inside the pre-activation, so
    (b_ih + d) + (b_hh - d) is the same number; no experiment on the outputs can tell the splits
    apart, and importing keeps exactly the sum.
    """
    _, tmodel = ours_and_torch(False)
    with torch.no_grad():
        for p in tmodel.parameters():
            p.uniform_(-0.3, 0.3)
    ids = torch.from_numpy(numpy.arange(15).reshape(5, 3) % 13)
    before = tmodel(ids)[0].detach().numpy()
    first = from_torch_state_dict(tmodel.state_dict(), dtype="float64")
    d = torch.from_numpy(numpy.random.default_rng(0).normal(size=32))
    with torch.no_grad():
        tmodel.lstm.bias_ih_l0 += d
        tmodel.lstm.bias_hh_l0 -= d
    after = tmodel(ids)[0].detach().numpy()
    assert relative_error(before, after) < 1e-14
    second = from_torch_state_dict(tmodel.state_dict(), dtype="float64")
    for name, value in first.state_dict().items():
        assert numpy.allclose(value, second.state_dict()[name], atol=1e-14), name


def test_exercise_13_3_one_lstm_step_by_hand_from_torch_weights():
    """Exercise 13.3: compute one LSTM step by hand from a torch.nn.LSTMCell's weights and compare
    h and c with the cell and with lstm_step_forward.

    a = x W_ih^T + b_ih + h W_hh^T + b_hh, cut into four blocks of H in the order i, f, g, o;
    sigmoid for i, f, o and tanh for g; then c' = f c + i g and h' = o tanh(c'). The same order
    of blocks in both libraries is what makes the export a plain transpose.
    """
    from scratchlstm.nn.functional import lstm_step_forward, sigmoid

    D, H, B = 5, 4, 3
    torch.manual_seed(1)
    cell = torch.nn.LSTMCell(D, H).double()
    rng = numpy.random.default_rng(0)
    x, h, c = rng.normal(size=(B, D)), rng.normal(size=(B, H)), rng.normal(size=(B, H))
    W_ih, W_hh = cell.weight_ih.detach().numpy(), cell.weight_hh.detach().numpy()
    b = cell.bias_ih.detach().numpy() + cell.bias_hh.detach().numpy()
    a = x @ W_ih.T + h @ W_hh.T + b
    i, f, g, o = sigmoid(a[:, :H]), sigmoid(a[:, H:2 * H]), numpy.tanh(a[:, 2 * H:3 * H]), sigmoid(a[:, 3 * H:])
    c_new = f * c + i * g
    h_new = o * numpy.tanh(c_new)
    th, tc = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    assert relative_error(h_new, th.detach().numpy()) < 1e-14
    assert relative_error(c_new, tc.detach().numpy()) < 1e-14
    oh, oc, _ = lstm_step_forward(x, h, c, W_ih.T, W_hh.T, b)
    assert relative_error(oh, h_new) < 1e-14 and relative_error(oc, c_new) < 1e-14


def sgd_step_in_both(freeze_bias_hh):
    from scratchlstm import SGD

    model, tmodel = ours_and_torch(False, num_layers=1)
    model.train()
    tmodel.train()
    if freeze_bias_hh:
        tmodel.lstm.bias_hh_l0.requires_grad_(False)
    rng = numpy.random.default_rng(0)
    ids, targets = rng.integers(0, 13, (6, 4)), rng.integers(0, 13, (6, 4))
    b_before = model.lstm.layers[0].b.data.copy()
    logits, _ = model(ids)
    _, dlogits = softmax_cross_entropy(logits, targets)
    model.zero_grad()
    model.backward(dlogits)
    SGD(model.parameters(), lr=0.5).step()
    tlogits, _ = tmodel(torch.from_numpy(ids))
    torch.nn.functional.cross_entropy(tlogits.reshape(-1, 13), torch.from_numpy(targets).reshape(-1)).backward()
    torch.optim.SGD([p for p in tmodel.parameters() if p.requires_grad], lr=0.5).step()
    return model, tmodel, b_before


def test_exercise_13_4_two_biases_double_the_bias_step():
    """Exercise 13.4: after one SGD step from the same float64 weights, every weight matrix agrees,
    PyTorch's effective bias (bias_ih + bias_hh) moved exactly twice as far as our b, and freezing
    bias_hh makes the two models identical again.

    Both biases receive the full gradient g_b (they enter the sum with coefficient 1), so two SGD
    updates of -lr g_b add up to -2 lr g_b on the effective bias; our single b moves -lr g_b. With
    bias_hh frozen PyTorch has one trainable bias, like us.
    """
    model, tmodel, b_before = sgd_step_in_both(freeze_bias_hh=False)
    t = {name: p.detach().numpy() for name, p in tmodel.named_parameters()}
    layer = model.lstm.layers[0]
    assert relative_error(layer.Wx.data, t["lstm.weight_ih_l0"].T) < 1e-14
    assert relative_error(layer.Wh.data, t["lstm.weight_hh_l0"].T) < 1e-14
    assert relative_error(model.decoder.weight.data, t["decoder.weight"].T) < 1e-14
    ours_move = layer.b.data - b_before
    torch_move = t["lstm.bias_ih_l0"] + t["lstm.bias_hh_l0"] - b_before
    assert numpy.allclose(torch_move, 2 * ours_move, rtol=1e-10, atol=1e-15)
    assert numpy.abs(ours_move).max() > 1e-4                 # the bias did move

    model, tmodel, _ = sgd_step_in_both(freeze_bias_hh=True)
    imported = from_torch_state_dict(tmodel.state_dict(), dtype="float64")
    for name, value in model.state_dict().items():
        assert numpy.allclose(value, imported.state_dict()[name], rtol=1e-12, atol=1e-15), name
