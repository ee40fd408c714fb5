"""Why is the GRU the worst model of benchmarks/results/compare_models.md? A defect, or the recipe?

    python benchmarks/gru_investigation.py              # ~10 min on 2 cores (parity + diagnostics)
    python benchmarks/gru_investigation.py --epochs 3   # also 3-epoch runs of two remedies (~15 min more)

Three parts, all on the compare_models setting (COVID corpus, word level, min_freq 2, embedding 128,
batch 20, BPTT 35, Adam 3e-3, clip 0.25, dropout 0.3, seed 0):

1. *Parity*: our 2-layer GRU language model and a PyTorch one (``torch.nn.GRU``, the same weights,
   the same batches, PyTorch's Adam and clipping; dropout 0 so that no random masks differ) trained
   side by side for 150 steps. Equal losses at every step mean our GRU is PyTorch's GRU.
2. *Diagnostics* after 300 steps, for the 2-layer GRU, a 1-layer GRU, the 2-layer LSTM and the
   2-layer GRU at lr 1e-3: the training loss, and per layer on a validation batch the share of
   saturated candidates (``|n| > 0.95``), the mean update gate, the mean ``|h|`` and the spread of
   ``h`` over positions (how much the state depends on the input), and the norm of the gradient
   reaching each layer's input weights at steps 10, 100 and 300.
3. With ``--epochs N``: the remedies trained like the table's rows (N epochs, LR / 4 on plateau):
   the 2-layer GRU at lr 1e-3, and a 1-layer GRU at lr 3e-3.

Writes benchmarks/results/gru_investigation.json (lesson 12 reads it) and prints a summary.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scratchlstm import Adam, LSTMLanguageModel, clip_grad_norm        # noqa: E402
from scratchlstm.backend import np                                      # noqa: E402
from scratchlstm.data import make_tokenizer, prepare_data               # noqa: E402
from scratchlstm.nn import functional as F                              # noqa: E402
from scratchlstm.text import batchify, bptt_windows                     # noqa: E402
from scratchlstm.training import Trainer                                # noqa: E402

OUT = REPO / "benchmarks" / "results" / "gru_investigation.json"
E, H_GRU, H_LSTM = 128, 132, 128


def torch_copy(model, torch):
    """A PyTorch embedding -> nn.GRU -> linear model holding ``model``'s weights."""
    sd, cfg = model.state_dict(), model.config
    V, L, H = cfg["vocab_size"], cfg["num_layers"], cfg["hidden_dim"]

    class TorchGRULM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(V, cfg["embed_dim"])
            self.gru = torch.nn.GRU(cfg["embed_dim"], H, L)
            self.decoder = torch.nn.Linear(H, V)

        def forward(self, x, h=None):
            out, h = self.gru(self.embedding(x), h)
            return self.decoder(out), h

    tm = TorchGRULM()
    with torch.no_grad():
        tm.embedding.weight.copy_(torch.tensor(sd["embedding.weight"]))
        for k in range(L):   # our (D, 3H) blocks r, z, n are PyTorch's (3H, D), same order
            getattr(tm.gru, f"weight_ih_l{k}").copy_(torch.tensor(sd[f"lstm.layers.{k}.Wx"].T))
            getattr(tm.gru, f"weight_hh_l{k}").copy_(torch.tensor(sd[f"lstm.layers.{k}.Wh"].T))
            getattr(tm.gru, f"bias_ih_l{k}").copy_(torch.tensor(sd[f"lstm.layers.{k}.bx"]))
            getattr(tm.gru, f"bias_hh_l{k}").copy_(torch.tensor(sd[f"lstm.layers.{k}.bh"]))
        tm.decoder.weight.copy_(torch.tensor(sd["decoder.weight"].T))
        tm.decoder.bias.copy_(torch.tensor(sd["decoder.bias"]))
    return tm


def parity(ids, V, steps=150):
    """Losses of our GRU LM and PyTorch's, step by step (None without torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    ours = LSTMLanguageModel(V, E, H_GRU, 2, dropout=0.0, seed=0, cell="gru")
    theirs = torch_copy(ours, torch)
    opt, topt = Adam(ours.parameters(), lr=3e-3), torch.optim.Adam(theirs.parameters(), lr=3e-3)
    state, tstate, rows = None, None, []
    for step, (x, y) in enumerate(bptt_windows(batchify(ids["train"], 20), 35)):
        if step == steps:
            break
        logits, state = ours(x, state)
        loss, dlogits = ours.loss(logits, y)
        ours.zero_grad()
        ours.backward(dlogits)
        clip_grad_norm(ours.parameters(), 0.25)
        opt.step()
        tlogits, tstate = theirs(torch.from_numpy(x), tstate)
        tstate = tstate.detach()
        tloss = torch.nn.functional.cross_entropy(tlogits.reshape(-1, V), torch.from_numpy(y).reshape(-1))
        topt.zero_grad()
        tloss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.25)
        topt.step()
        rows.append((float(loss), tloss.item()))
    diffs = [abs(a - b) for a, b in rows]
    return {"steps": steps, "max_abs_loss_difference": max(diffs),
            "losses_every_25": [[k, *rows[k]] for k in range(0, steps, 25)] + [[steps - 1, *rows[-1]]]}


def layer_stats(model, x_ids):
    """Per layer on one validation batch: saturation, gates, and how much h varies."""
    x = model.embedding(x_ids).astype(np.float64)
    out = []
    for layer in model.lstm.layers:
        B = x.shape[1]
        Hh = layer.Wh.data.shape[0]
        W = {n: getattr(layer, n).data.astype(np.float64) for n in ("Wx", "Wh")}
        if model.config["cell"] == "gru":
            hs, _, cache = F.gru_forward(x, np.zeros((B, Hh)), W["Wx"], W["Wh"], layer.bx.data.astype(np.float64),
                                         layer.bh.data.astype(np.float64))
            n = np.stack([s.n for s in cache.steps])
            z = np.stack([s.z for s in cache.steps])
            gate = {"saturated_candidates": float((np.abs(n) > 0.95).mean()), "mean_update_gate_z": float(z.mean())}
        else:
            hs, _, cache = F.lstm_forward(x, np.zeros((B, Hh)), np.zeros((B, Hh)), W["Wx"], W["Wh"],
                                          layer.b.data.astype(np.float64))
            g = np.stack([s.g for s in cache.steps])
            f = np.stack([s.f for s in cache.steps])
            gate = {"saturated_candidates": float((np.abs(g) > 0.95).mean()), "mean_forget_gate_f": float(f.mean())}
        out.append({**gate, "mean_abs_h": float(np.abs(hs).mean()),
                    "h_spread_over_positions": float(hs.reshape(-1, Hh).std(axis=0).mean())})
        x = hs
    return out


def diagnose(ids, V, cell, hidden, layers, lr, steps=300):
    model = LSTMLanguageModel(V, E, hidden, layers, dropout=0.3, seed=0, cell=cell)
    opt = Adam(model.parameters(), lr=lr)
    valid_batch = batchify(ids["valid"][:7000], 20)[:35]
    state, losses, grads = None, [], {}
    for step, (x, y) in enumerate(bptt_windows(batchify(ids["train"], 20), 35)):
        if step == steps:
            break
        model.train()
        logits, state = model(x, state)
        loss, dlogits = model.loss(logits, y)
        model.zero_grad()
        model.backward(dlogits)
        if step + 1 in (10, 100, steps):
            grads[step + 1] = [float(np.linalg.norm(layer.Wx.grad)) for layer in model.lstm.layers]
        clip_grad_norm(model.parameters(), 0.25)
        opt.step()
        losses.append(float(loss))
    model.eval()
    return {"cell": cell, "hidden": hidden, "layers": layers, "lr": lr, "steps": steps,
            "train_loss_last_25": float(np.mean(losses[-25:])), "layers_after": layer_stats(model, valid_batch),
            "input_weight_grad_norm_per_layer": grads}


def remedy(ids, chars, tokenizer, V, hidden, layers, lr, epochs):
    model = LSTMLanguageModel(V, E, hidden, layers, dropout=0.3, seed=0, cell="gru")
    config = dict(epochs=epochs, batch_size=20, eval_batch_size=10, bptt=35, optimizer="adam", lr=lr,
                  clip=0.25, schedule="plateau", plateau_factor=0.25)
    start = time.perf_counter()
    trainer = Trainer(model, ids, config, tokenizer=tokenizer, chars=chars,
                      log=lambda line: print(f"[GRU {layers}x{hidden} lr {lr:g}] {line}", flush=True))
    history = trainer.fit()
    return {"hidden": hidden, "layers": layers, "lr": lr, "epochs": epochs,
            "valid_ppl_per_epoch": [h["valid_ppl"] for h in history], "test_ppl": trainer.result["test_ppl"],
            "params": model.num_parameters(), "minutes": (time.perf_counter() - start) / 60}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=0, help="also train the remedies for this many epochs")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args(argv)
    tokenizer = make_tokenizer("word", min_freq=2)
    ids, chars = prepare_data("covid", tokenizer)
    V = tokenizer.vocab_size
    report = {"setting": "COVID word level (vocabulary %d), embedding 128, batch 20, BPTT 35, Adam, clip 0.25, "
                         "dropout 0.3 (0 in the parity run), seed 0" % V,
              "command": "python benchmarks/gru_investigation.py" + (f" --epochs {args.epochs}" if args.epochs else "")}
    start = time.perf_counter()
    report["parity_with_torch"] = parity(ids, V)
    print("parity:", json.dumps(report["parity_with_torch"]), flush=True)
    report["diagnostics"] = []
    for cell, hidden, layers, lr in (("gru", H_GRU, 2, 3e-3), ("gru", H_GRU, 1, 3e-3), ("lstm", H_LSTM, 2, 3e-3),
                                     ("gru", H_GRU, 2, 1e-3)):
        row = diagnose(ids, V, cell, hidden, layers, lr)
        report["diagnostics"].append(row)
        print("diagnostics:", json.dumps(row), flush=True)
    if args.epochs:
        report["remedies"] = [remedy(ids, chars, tokenizer, V, H_GRU, 2, 1e-3, args.epochs),
                              remedy(ids, chars, tokenizer, V, H_GRU, 1, 3e-3, args.epochs)]
    report["minutes"] = (time.perf_counter() - start) / 60
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} ({report['minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
