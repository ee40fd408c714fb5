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
