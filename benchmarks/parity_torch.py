"""Train the same model on the same data with the same initial weights and the same recipe in
scratchlstm and in PyTorch (CPU), and compare the validation perplexity curves.

The PyTorch model is built by ``scratchlstm.interop.build_torch_model`` with our initial weights
loaded (its second LSTM bias, ``bias_hh``, frozen at zero: we have one bias per layer), both see the same (T, B) windows in the same order, both use plain SGD with global-norm
clipping and the same learning-rate schedule, and neither uses dropout, so the only differences
are floating-point round-off and kernel order. Their final validation perplexities must agree
within 2%.

    SCRATCHLSTM_DATA=../shared/data python benchmarks/parity_torch.py --recipe ptb-small --epochs 2
    python benchmarks/parity_torch.py --recipe covid-word --epochs 3
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

RECIPES = {
    # Zaremba et al. small: lr 1 / clip 5 on the summed loss = lr 20 / clip 0.25 on the mean.
    "ptb-small": dict(data="ptb", tokenizer=dict(mode="whitespace", min_freq=1), embed=200, hidden=200,
                      layers=2, init_range=0.1, batch=20, bptt=20, lr=20.0, clip=0.25, decay_start=4,
                      decay_factor=0.5),
    "covid-word": dict(data="covid", tokenizer=dict(min_freq=2), embed=200, hidden=200, layers=2,
                       init_range=0.1, batch=20, bptt=35, lr=20.0, clip=0.25, decay_start=2,
                       decay_factor=0.5),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=RECIPES, default="covid-word")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None, help="cap steps per epoch (smoke runs)")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the figure and JSON")
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    import torch
    from scratchlstm import LSTMLanguageModel, SGD, clip_grad_norm, softmax_cross_entropy
    from scratchlstm.data import make_tokenizer, prepare_data
    from scratchlstm.interop import build_torch_model
    from scratchlstm.plots import plot_curves
    from scratchlstm.text import batchify, bptt_windows
    from scratchlstm.training import evaluate

    torch.set_num_threads(args.threads)
    r = RECIPES[args.recipe]
    tokenizer = make_tokenizer("word", **r["tokenizer"])
    ids, _ = prepare_data(r["data"], tokenizer)
    V = tokenizer.vocab_size
    train = batchify(ids["train"], r["batch"])
    valid = batchify(ids["valid"], 10)

    def windows():
        for k, (x, y) in enumerate(bptt_windows(train, r["bptt"])):
            if args.max_steps and k >= args.max_steps:
                return
            yield x, y

    def lr_for(epoch):   # epochs count from 1; decay after every epoch from decay_start on
        return r["lr"] * r["decay_factor"] ** max(0, epoch - r["decay_start"])

    model = LSTMLanguageModel(V, r["embed"], r["hidden"], r["layers"], init="uniform",
                              init_range=r["init_range"], seed=0)
    tmodel = build_torch_model(model)          # same initial weights
    curves = {"scratchlstm": [], "PyTorch": []}
    seconds = {"scratchlstm": 0.0, "PyTorch": 0.0}

    # ---- scratchlstm ----------------------------------------------------------------------
    opt = SGD(model.parameters(), lr=r["lr"])
    for epoch in range(1, args.epochs + 1):
        opt.lr = lr_for(epoch)
        model.train()
        state, start = None, time.perf_counter()
        for x, y in windows():
            logits, state = model(x, state)
            loss, dlogits = softmax_cross_entropy(logits, y)
            model.zero_grad()
            model.backward(dlogits)
            clip_grad_norm(model.parameters(), r["clip"])
            opt.step()
        seconds["scratchlstm"] += time.perf_counter() - start
        ppl = math.exp(evaluate(model, valid, 10, r["bptt"]))
        curves["scratchlstm"].append(ppl)
        print(f"scratchlstm epoch {epoch}: valid ppl {ppl:.2f}", flush=True)

    # ---- PyTorch --------------------------------------------------------------------------
    # torch.nn.LSTM has two bias vectors per layer (bias_ih + bias_hh) where we have one; training
    # both would double the bias's effective learning rate and count its gradient twice in the
    # clipping norm. Freezing bias_hh at zero makes the two models the same parameterisation.
    for name, p in tmodel.lstm.named_parameters():
        if name.startswith("bias_hh"):
            p.requires_grad_(False)
    params = [p for p in tmodel.parameters() if p.requires_grad]
    topt = torch.optim.SGD(params, lr=r["lr"])
    for epoch in range(1, args.epochs + 1):
        for group in topt.param_groups:
            group["lr"] = lr_for(epoch)
        tmodel.train()
        state, start = None, time.perf_counter()
        for x, y in windows():
            logits, state = tmodel(torch.from_numpy(x), state)
            state = tuple(s.detach() for s in state)
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).reshape(-1))
            topt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, r["clip"])
            topt.step()
        seconds["PyTorch"] += time.perf_counter() - start
        tmodel.eval()
        total, count, state = 0.0, 0, None
        with torch.no_grad():
            for x, y in bptt_windows(valid, r["bptt"]):
                logits, state = tmodel(torch.from_numpy(x), state)
                total += torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.from_numpy(y).reshape(-1),
                                                           reduction="sum").item()
                count += y.size
        ppl = math.exp(total / count)
        curves["PyTorch"].append(ppl)
        print(f"PyTorch     epoch {epoch}: valid ppl {ppl:.2f}", flush=True)

    ours, theirs = curves["scratchlstm"][-1], curves["PyTorch"][-1]
    gap = abs(ours - theirs) / theirs
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_curves(curves, out / f"parity_{args.recipe}.png", title=f"{args.recipe}: same weights, same recipe")
    summary = {"recipe": args.recipe, "epochs": args.epochs, "curves": curves, "train_seconds": seconds,
               "relative_gap": gap, "within_2_percent": gap <= 0.02}
    (out / f"parity_{args.recipe}.json").write_text(json.dumps(summary, indent=2))
    print(f"\nfinal valid perplexity: scratchlstm {ours:.2f}, PyTorch {theirs:.2f}, gap {100 * gap:.2f}% "
          f"({'within' if gap <= 0.02 else 'OUTSIDE'} 2%); train time {seconds['scratchlstm']:.0f} s vs "
          f"{seconds['PyTorch']:.0f} s")
    return 0 if gap <= 0.02 else 1


if __name__ == "__main__":
    sys.exit(main())
