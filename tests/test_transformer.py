"""The transformer's pieces and the whole model: finite differences in float64, and PyTorch with
the same weights (logits, loss and every gradient)."""
import numpy
import pytest

from scratchlstm.gradcheck import check_function, check_model, relative_error
from scratchlstm.nn import attention as A
from scratchlstm.transformer import TransformerLanguageModel

TOL = 1e-7


def block_params(rng, D, F, scale=0.4):
    shapes = {"ln1_gamma": (D,), "ln1_beta": (D,), "Wqkv": (D, 3 * D), "bqkv": (3 * D,),
              "Wo": (D, D), "bo": (D,), "ln2_gamma": (D,), "ln2_beta": (D,), "W_fc": (D, F),
              "b_fc": (F,), "W_proj": (F, D), "b_proj": (D,)}
    return {name: rng.standard_normal(shapes[name]) * scale for name in A.BLOCK_PARAMETERS}


def test_layer_norm_output_has_zero_mean_and_unit_variance(rng):
    x = rng.standard_normal((4, 3, 10)) * 5 + 2
    y, _ = A.layer_norm_forward(x, numpy.ones(10), numpy.zeros(10))
    assert numpy.allclose(y.mean(axis=-1), 0, atol=1e-12)
    assert numpy.allclose(y.var(axis=-1), 1, atol=1e-4)          # var / (var + eps)


def test_layer_norm_gradients(rng):
    x, gamma, beta = rng.standard_normal((5, 2, 6)), rng.standard_normal(6), rng.standard_normal(6)
    assert check_function(A.layer_norm_forward, A.layer_norm_backward, [x, gamma, beta]).worst < TOL


def test_gelu_values_and_gradient(rng):
    """GELU(0) = 0, GELU(x) ~ x for large x, ~ 0 for very negative x; its slope by differences."""
    y, _ = A.gelu_forward(numpy.array([0.0, 10.0, -10.0]))
    assert numpy.allclose(y, [0.0, 10.0, 0.0], atol=1e-12)
    assert check_function(A.gelu_forward, A.gelu_backward, [rng.standard_normal((4, 5)) * 2]).worst < TOL


def test_attention_is_causal(rng):
    """Changing the input at step 3 changes no output before step 3."""
    D = 6
    x = rng.standard_normal((5, 2, D))
    args = (rng.standard_normal((D, 3 * D)), rng.standard_normal(3 * D), rng.standard_normal((D, D)),
            rng.standard_normal(D))
    y, cache = A.causal_self_attention_forward(x, *args, 2)
    x2 = x.copy()
    x2[3] += 1.0
    y2, _ = A.causal_self_attention_forward(x2, *args, 2)
    assert numpy.array_equal(y[:3], y2[:3]) and not numpy.allclose(y[3:], y2[3:])
    assert numpy.allclose(cache.p.sum(axis=-1), 1.0) and numpy.all(numpy.triu(cache.p[0, 0], 1) == 0)


@pytest.mark.parametrize("heads", [1, 2, 3])
def test_attention_gradients(rng, heads):
    D = 6
    inputs = [rng.standard_normal((4, 2, D)), rng.standard_normal((D, 3 * D)) * 0.5,
              rng.standard_normal(3 * D) * 0.1, rng.standard_normal((D, D)) * 0.5, rng.standard_normal(D) * 0.1]
    result = check_function(lambda *a: A.causal_self_attention_forward(*a, heads),
                            A.causal_self_attention_backward, inputs,
                            names=["x", "Wqkv", "bqkv", "Wo", "bo"])
    assert result.worst < TOL, str(result)


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_block_gradients(rng, dropout):
    """The whole pre-norm block, residuals included, every parameter (dropout masks held fixed)."""
    D, F = 6, 12
    params = block_params(rng, D, F)
    names = list(A.BLOCK_PARAMETERS)

    def forward(x, *values):
        return A.transformer_block_forward(x, dict(zip(names, values)), 3, dropout,
                                           numpy.random.default_rng(5))

    def backward(dy, cache):
        dx, grads = A.transformer_block_backward(dy, cache)
        return (dx, *(grads[n] for n in names))

    result = check_function(forward, backward, [rng.standard_normal((5, 2, D))] + [params[n] for n in names],
                            names=["x"] + names)
    assert result.worst < TOL, str(result)


@pytest.mark.parametrize("tie_weights, dropout", [(True, 0.0), (False, 0.2)])
def test_model_gradients_with_and_without_context(rng, tie_weights, dropout):
    model = TransformerLanguageModel(11, 8, 2, 2, 6, dropout=dropout, tie_weights=tie_weights,
                                     dtype="float64", seed=1)
    ids, targets = rng.integers(0, 11, (5, 3)), rng.integers(0, 11, (5, 3))
    assert check_model(model, ids, targets, max_checks=25).worst < 1e-6
    _, state = model(ids)
    assert state[0].shape == (5, 3)                              # block_size - 1 tokens of context
    assert check_model(model, ids[:3], targets[:3], max_checks=25, state=state).worst < 1e-6


def test_context_slides_and_windows_longer_than_the_block_are_refused(rng):
    model = TransformerLanguageModel(7, 4, 1, 1, 4, seed=0)
    ids = rng.integers(0, 7, (4, 2))
    logits, state = model(ids)
    assert logits.shape == (4, 2, 7) and numpy.array_equal(state[0], ids[1:])
    one, state = model(ids[:1], state)
    assert one.shape == (1, 2, 7) and numpy.array_equal(state[0], numpy.concatenate([ids[2:], ids[:1]]))
    # the last logits of a full window equal those of the same tokens fed as context + 1 token
    full, _ = model(ids)
    last, _ = model(ids[3:], (ids[:3],))
    assert numpy.allclose(full[3], last[0], atol=1e-6)
    with pytest.raises(ValueError, match="block_size 4"):
        model(rng.integers(0, 7, (5, 2)))


def test_same_numbers_as_pytorch():
    """Logits, loss and every gradient of a 2-block model equal a PyTorch model built from the
    same weights (float64), module by module: LayerNorm, attention with a causal mask,
    GELU(approximate="tanh"), residuals, tied decoder."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    V, D, heads, L, block, T, B = 13, 8, 2, 2, 6, 6, 3
    ours = TransformerLanguageModel(V, D, heads, L, block, tie_weights=True, dtype="float64", seed=4)
    rng = numpy.random.default_rng(1)
    for p in ours.parameters():                           # non-trivial layer norms and biases
        p.data += rng.standard_normal(p.data.shape) * 0.05
    ids, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    logits, _ = ours(ids)
    loss, dlogits = ours.loss(logits, targets)
    ours.zero_grad()
    ours.backward(dlogits)

    w = {name: torch.tensor(p.data, requires_grad=True) for name, p in ours.named_parameters()}
    x = w["embedding.weight"][torch.from_numpy(ids)] + w["position.weight"][:T][:, None, :]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), 1)
    for k in range(L):
        p = {n: w[f"blocks.{k}.{n}"] for n in A.BLOCK_PARAMETERS}
        a = F.layer_norm(x, (D,), p["ln1_gamma"], p["ln1_beta"], eps=1e-5)
        q, kk, v = (a @ p["Wqkv"] + p["bqkv"]).split(D, dim=-1)
        split = lambda t: t.reshape(T, B, heads, D // heads).permute(1, 2, 0, 3)   # noqa: E731
        s = split(q) @ split(kk).transpose(-1, -2) / (D // heads) ** 0.5
        att = torch.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ split(v)
        x = x + att.permute(2, 0, 1, 3).reshape(T, B, D) @ p["Wo"] + p["bo"]
        c = F.layer_norm(x, (D,), p["ln2_gamma"], p["ln2_beta"], eps=1e-5)
        x = x + F.gelu(c @ p["W_fc"] + p["b_fc"], approximate="tanh") @ p["W_proj"] + p["b_proj"]
    x = F.layer_norm(x, (D,), w["ln_gamma"], w["ln_beta"], eps=1e-5)
    tlogits = x @ w["embedding.weight"].T + w["decoder.bias"]
    tloss = F.cross_entropy(tlogits.reshape(-1, V), torch.from_numpy(targets).reshape(-1))
    tloss.backward()

    assert relative_error(logits, tlogits.detach().numpy()) < 1e-12
    assert abs(float(loss) - tloss.item()) < 1e-12
    for name, p in ours.named_parameters():
        assert relative_error(p.grad, w[name].grad.numpy()) < 1e-10, name


@pytest.mark.parametrize("tie_weights", [True, False])
def test_parameter_count_and_a_checkpoint_round_trip(tmp_path, rng, tie_weights):
    """count_transformer_parameters predicts num_parameters(); a checkpoint rebuilds the same
    model, through the Trainer's own files."""
    from scratchlstm.checkpoint import load_model, save_checkpoint
    from scratchlstm.text import CharTokenizer
    from scratchlstm.transformer import count_transformer_parameters

    model = TransformerLanguageModel(17, 8, 2, 3, 10, mlp_ratio=2, tie_weights=tie_weights, seed=2)
    assert count_transformer_parameters(17, 8, 3, 10, 2, tie_weights) == model.num_parameters()
    tok = CharTokenizer().fit("abcdefghijklmnop")
    save_checkpoint(tmp_path / "t.npz", model, tokenizer=tok)
    again, _ = load_model(tmp_path / "t.npz")
    ids = rng.integers(0, 17, (6, 2))
    assert type(again) is TransformerLanguageModel
    assert numpy.array_equal(again(ids)[0], model.eval()(ids)[0])
