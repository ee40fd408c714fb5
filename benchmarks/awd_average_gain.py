"""What NT-ASGD's averaging buys at the end of a run: the last SGD iterate against the running
average of the weights, both read from one resumable checkpoint (``last.npz`` holds the iterate
as the model's weights and the average in the optimizer's state).

    SCRATCHLSTM_DATA=../shared/data python benchmarks/awd_average_gain.py runs/ptb-awd/last.npz

Prints validation and test perplexity for both and writes them as JSON (``--out``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a last.npz written by an --optimizer ntasgd run")
    p.add_argument("--data-dir", default=os.environ.get("SCRATCHLSTM_DATA"))
    p.add_argument("--out", default=str(HERE / "results" / "ptb_awd" / "iterate_vs_average.json"))
    args = p.parse_args(argv)

    from scratchlstm.checkpoint import load_checkpoint
    from scratchlstm.data import prepare_data
    from scratchlstm.training import Trainer, evaluate, read_data_config

    path = Path(args.checkpoint)
    ckpt = load_checkpoint(path)
    data_config = read_data_config(path, ckpt.user_meta)
    ids, _ = prepare_data(data_config.data, ckpt.tokenizer(), args.data_dir or data_config.data_dir,
                          fit=False, max_chars=data_config.max_chars)
    scratch = tempfile.TemporaryDirectory()           # the trainer's folder; nothing is trained here
    trainer = Trainer.resume(path, ids, out_dir=scratch.name, log=lambda line: None)
    optimizer = trainer.optimizer
    if not getattr(optimizer, "averaging", False):
        sys.exit(f"{path}: its optimizer is not averaging (not an NT-ASGD run past its switch)")
    config = trainer.config
    result = {"checkpoint": str(path), "epochs_trained": len(trainer.history), "switched_at_epoch": optimizer.switched_at_epoch,
              "steps_averaged": optimizer.n_averaged}
    for name, context in (("iterate", None), ("average", optimizer.averaged)):
        for split in ("valid", "test"):
            if context is None:
                loss = evaluate(trainer.model, ids[split], config.eval_batch_size, config.bptt)
            else:
                with context():
                    loss = evaluate(trainer.model, ids[split], config.eval_batch_size, config.bptt)
            result[f"{name}_{split}_ppl"] = math.exp(loss)
            print(f"{name:8s} {split:5s} perplexity {math.exp(loss):8.2f}", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
