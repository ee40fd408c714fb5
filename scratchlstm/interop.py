"""Move weights between scratchlstm and PyTorch.

The PyTorch model these functions talk to is the classic word-language-model layout::

    import torch.nn as nn

    class TorchLSTMLanguageModel(nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_dim, num_layers, dropout=0.0, tie_weights=False):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_dim)
            self.lstm = nn.LSTM(embed_dim, hidden_dim, num_layers, dropout=dropout)  # time-major
            self.drop = nn.Dropout(dropout)
            self.decoder = nn.Linear(hidden_dim, vocab_size)
            if tie_weights:
                self.decoder.weight = self.embedding.weight

        def forward(self, ids, state=None):             # ids (T, B) long
            out, state = self.lstm(self.drop(self.embedding(ids)), state)
            return self.decoder(self.drop(out)), state

:func:`build_torch_model` builds exactly this class for a scratchlstm model.

Layout differences, handled here and nowhere else:

* PyTorch stores ``weight_ih_l{k}`` as ``(4H, D)`` and computes ``x W^T``; we store ``Wx (D, 4H)``
  and compute ``x Wx``. Same for ``weight_hh`` / ``Wh`` and for ``nn.Linear`` / our decoder.
* Both use the gate order i, f, g, o.
* PyTorch has two biases, ``bias_ih + bias_hh``; we have one ``b``. Exporting puts ``b`` in
  ``bias_ih`` and zeros in ``bias_hh``; importing adds them.
"""
from __future__ import annotations

from .backend import to_host, np


def _require_torch():
    try:
        import torch  # noqa: PLC0415 - optional, only for interop
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("scratchlstm.interop needs PyTorch: pip install torch") from exc
    return torch


def to_numpy_state_dict(model) -> dict:
    """PyTorch-named, PyTorch-shaped NumPy arrays for ``model`` (no torch needed)."""
    c = model.config
    if c.get("cell", "lstm") != "lstm":
        raise ValueError(f"interop supports LSTM models only, this one uses cell={c['cell']!r}")
    sd = {"embedding.weight": to_host(model.embedding.weight.data).copy()}
    for k, layer in enumerate(model.lstm.layers):
        sd[f"lstm.weight_ih_l{k}"] = to_host(layer.Wx.data).T.copy()
        sd[f"lstm.weight_hh_l{k}"] = to_host(layer.Wh.data).T.copy()
        sd[f"lstm.bias_ih_l{k}"] = to_host(layer.b.data).copy()
        sd[f"lstm.bias_hh_l{k}"] = np.zeros_like(sd[f"lstm.bias_ih_l{k}"])
    sd["decoder.weight"] = to_host(model.decoder.W).T.copy()     # (V, H)
    sd["decoder.bias"] = to_host(model.decoder.bias.data).copy()
    if c["tie_weights"]:
        assert np.array_equal(sd["decoder.weight"], sd["embedding.weight"])
    return sd


def to_torch_state_dict(model) -> dict:
    """A ``state_dict`` of torch tensors loadable into :func:`build_torch_model`'s module."""
    torch = _require_torch()
    return {k: torch.from_numpy(v) for k, v in to_numpy_state_dict(model).items()}


def from_torch_state_dict(state_dict, model=None, **model_kwargs):
    """Load PyTorch-layout weights into a scratchlstm model.

    Parameters
    ----------
    state_dict : mapping of name -> torch tensor, NumPy or CuPy array, as described in the module
        doc
    model : LSTMLanguageModel or None. None builds one, inferring vocab, embedding, hidden size,
        layer count and weight tying from the shapes; ``model_kwargs`` (dropout, dtype, ...) are
        passed on.

    Returns
    -------
    LSTMLanguageModel with the weights copied in
    """
    from .models import LSTMLanguageModel  # noqa: PLC0415 - avoid an import cycle

    # torch tensors (on any torch device) and NumPy or CuPy arrays, all copied to host NumPy
    sd = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else to_host(v))
          for k, v in state_dict.items()}
    required = ["embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "decoder.bias"]
    missing = [k for k in required if k not in sd]
    if missing:
        raise KeyError(f"from_torch_state_dict: missing keys {missing}; expected the layout of "
                       "scratchlstm.interop.build_torch_model")
    vocab, embed = sd["embedding.weight"].shape
    hidden = sd["lstm.weight_hh_l0"].shape[1]
    layers = sum(1 for k in sd if k.startswith("lstm.weight_ih_l"))
    tied = "decoder.weight" not in sd or (sd["decoder.weight"].shape == sd["embedding.weight"].shape
                                          and np.array_equal(sd["decoder.weight"], sd["embedding.weight"]))
    if model is None:
        model = LSTMLanguageModel(vocab, embed, hidden, layers, tie_weights=tied and embed == hidden,
                                  **model_kwargs)
    ours = {"embedding.weight": sd["embedding.weight"]}
    for k in range(layers):
        ours[f"lstm.layers.{k}.Wx"] = sd[f"lstm.weight_ih_l{k}"].T
        ours[f"lstm.layers.{k}.Wh"] = sd[f"lstm.weight_hh_l{k}"].T
        ours[f"lstm.layers.{k}.b"] = sd[f"lstm.bias_ih_l{k}"] + sd.get(f"lstm.bias_hh_l{k}", 0.0)
    if not model.config["tie_weights"]:
        ours["decoder.weight"] = sd["decoder.weight"].T
    ours["decoder.bias"] = sd["decoder.bias"]
    model.load_state_dict(ours)
    return model


def build_torch_model(model, load_weights: bool = True):
    """Build the equivalent PyTorch module (see the module docstring), optionally with our weights.

    The module uses float64 if ``model`` does, so float64 comparisons are exact to round-off.
    """
    torch = _require_torch()
    nn = torch.nn
    c = model.config

    class TorchLSTMLanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(c["vocab_size"], c["embed_dim"])
            self.lstm = nn.LSTM(c["embed_dim"], c["hidden_dim"], c["num_layers"],
                                dropout=c["dropout"] if c["num_layers"] > 1 else 0.0)
            self.drop = nn.Dropout(c["dropout"])
            self.decoder = nn.Linear(c["hidden_dim"], c["vocab_size"])
            if c["tie_weights"]:
                self.decoder.weight = self.embedding.weight

        def forward(self, ids, state=None):
            out, state = self.lstm(self.drop(self.embedding(ids)), state)
            return self.decoder(self.drop(out)), state

    tm = TorchLSTMLanguageModel()
    if c["dtype"] == "float64":
        tm = tm.double()
    if load_weights:
        sd = to_torch_state_dict(model)
        if c["tie_weights"]:
            sd.pop("decoder.weight")
            tm.load_state_dict(sd, strict=False)
        else:
            tm.load_state_dict(sd)
    return tm
