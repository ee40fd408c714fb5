"""Command line: ``python -m scratchlstm train | evaluate | generate | gradcheck | serve``.

Examples::

    python -m scratchlstm train --data covid --tokenizer word --epochs 5 --out runs/covid-word
    python -m scratchlstm train --config benchmarks/configs/ptb_small.py
    python -m scratchlstm train --resume runs/covid-word/last.npz
    python -m scratchlstm evaluate --checkpoint runs/covid-word/best.npz --data covid
    python -m scratchlstm generate --checkpoint runs/covid-word/best.npz --prompt "the vaccine"
    python -m scratchlstm gradcheck

Exit codes: 0 success, 1 training diverged or a gradient check failed, 2 bad arguments or input,
130 interrupted (a resumable checkpoint was saved).
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

MODEL_OPTIONS = ("embed_dim", "hidden_dim", "num_layers", "dropout", "tie_weights", "locked_dropout",
                 "init", "init_range", "forget_bias")
TRAIN_OPTIONS = ("epochs", "batch_size", "eval_batch_size", "bptt", "variable_bptt", "optimizer", "lr",
                 "momentum", "weight_decay", "clip", "schedule", "plateau_factor", "plateau_patience",
                 "decay_start", "decay_factor", "warmup_steps", "min_lr", "patience", "seed",
                 "max_steps_per_epoch")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _clip(text):
    if text.lower() in ("none", "off", "0"):
        return 0.0
    return float(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchlstm",
        description="Train, evaluate and sample LSTM language models written from scratch in NumPy "
                    "(CuPy on a GPU).",
        epilog="Run `python -m scratchlstm COMMAND --help` for the options of one command.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def device_option(p):
        p.add_argument("--device", default=None, choices=["cpu", "cuda", "auto"],
                       help="where to compute: cpu (NumPy), cuda (CuPy) or auto (GPU if available). "
                            "Default: $SCRATCHLSTM_DEVICE or cpu")

    def data_options(p, default=None):
        p.add_argument("--data", default=default, metavar="NAME_OR_PATH",
                       help="corpus name (covid, wikitext2, ptb, tinyshakespeare) or a text file/folder"
                            + (f" (default {default})" if default else ""))
        p.add_argument("--data-dir", default=None, metavar="DIR",
                       help="folder holding the named corpora (default $SCRATCHLSTM_DATA)")

    # ---- train -------------------------------------------------------------------------------
    t = sub.add_parser("train", help="train a language model",
                       description="Train an LSTM language model. Options on the command line override "
                                   "those of --config.")
    t.add_argument("--config", metavar="FILE.py", help="a Python file defining data, tokenizer, "
                   "tokenizer_options, model (dict), train (dict) and out")
    data_options(t)
    t.add_argument("--tokenizer", choices=["char", "word", "bpe", "unigram"], help="unit of text (default word)")
    t.add_argument("--vocab-size", type=_positive_int, help="BPE/unigram vocabulary size (default 2000)")
    t.add_argument("--min-freq", type=int, help="word tokenizer: rarer words become <unk> (default 3)")
    t.add_argument("--word-mode", choices=["basic_english", "cased", "whitespace"],
                   help="word tokenizer mode (whitespace: split on spaces only, for corpora that are "
                        "already tokenised, such as WikiText-2 and PTB)")
    g = t.add_argument_group("model")
    g.add_argument("--embed-dim", type=_positive_int, help="embedding size (default 200)")
    g.add_argument("--hidden-dim", type=_positive_int, help="LSTM units per layer (default 200)")
    g.add_argument("--layers", dest="num_layers", type=_positive_int, help="LSTM layers (default 2)")
    g.add_argument("--dropout", type=float, help="dropout probability (default 0.2)")
    g.add_argument("--tie-weights", action="store_true", default=None, help="share embedding and decoder")
    g.add_argument("--locked-dropout", action="store_true", default=None, help="one mask per sequence")
    g.add_argument("--init", choices=["default", "uniform"], help="weight initialisation scheme")
    g.add_argument("--init-range", type=float, help="bound for --init uniform (default 0.1)")
    g.add_argument("--forget-bias", type=float, help="initial forget-gate bias (default 0)")
    o = t.add_argument_group("optimisation")
    o.add_argument("--epochs", type=_positive_int, help="maximum epochs (default 10)")
    o.add_argument("--batch-size", type=_positive_int, help="parallel streams (default 20)")
    o.add_argument("--eval-batch-size", type=_positive_int, help="streams for evaluation (default 10)")
    o.add_argument("--bptt", type=_positive_int, help="truncated-BPTT window (default 35)")
    o.add_argument("--variable-bptt", action="store_true", default=None, help="jitter the window length")
    o.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], help="default adam")
    o.add_argument("--lr", type=float, help="learning rate (default 0.002)")
    o.add_argument("--momentum", type=float, help="SGD momentum")
    o.add_argument("--weight-decay", type=float, help="L2 (adam, sgd) or decoupled (adamw) decay")
    o.add_argument("--clip", type=_clip, help="global gradient-norm limit, or 'none' (default 0.25)")
    o.add_argument("--schedule", choices=["plateau", "epoch_decay", "cosine", "none"],
                   help="learning-rate schedule (default plateau)")
    o.add_argument("--plateau-factor", type=float, help="lr factor when validation stalls (default 0.25)")
    o.add_argument("--decay-start", type=int, help="epoch_decay: first epoch to decay after")
    o.add_argument("--decay-factor", type=float, help="epoch_decay: factor per epoch")
    o.add_argument("--warmup-steps", type=int, help="cosine: warm-up steps")
    o.add_argument("--patience", type=int, help="early stopping after N epochs without improvement")
    o.add_argument("--max-steps-per-epoch", type=_positive_int, help="cap windows per epoch (quick runs)")
    o.add_argument("--seed", type=int, help="seed for weights, dropout and sampling (default 0)")
    t.add_argument("--max-chars", type=_positive_int, metavar="N",
                   help="use only the first N characters of each split (a quick smoke run)")
    t.add_argument("--out", metavar="DIR", help="output folder for checkpoints, history and plot "
                   "(default runs/<data>-<tokenizer>)")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue from a last.npz checkpoint")
    t.add_argument("--samples", type=int, default=1, help="sample texts to print at the end (default 1)")
    t.add_argument("--functional", metavar="TRACK_OR_DIR", default=None,
                   help="the forward/backward functions the layers run: fast (default), reading "
                        "(the plain reference), or a workbook folder: train your own LSTM")
    device_option(t)

    # ---- evaluate ----------------------------------------------------------------------------
    e = sub.add_parser("evaluate", help="loss, perplexity and bits/char of a checkpoint on a corpus")
    e.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    data_options(e, default="covid")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("--batch-size", type=_positive_int, default=10)
    e.add_argument("--bptt", type=_positive_int, default=35)
    device_option(e)

    # ---- generate ----------------------------------------------------------------------------
    s = sub.add_parser("generate", help="continue a prompt with a trained model")
    s.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    s.add_argument("--prompt", default="", help="text to continue (default: start from scratch)")
    s.add_argument("--max-new-tokens", type=int, default=100)
    s.add_argument("--temperature", type=float, default=1.0, help="0 = greedy; <1 safer, >1 wilder")
    s.add_argument("--top-k", type=_positive_int, default=None)
    s.add_argument("--top-p", type=float, default=None)
    s.add_argument("--seed", type=int, default=None)
    s.add_argument("--stop-at-eos", action="store_true", help="stop at the end-of-text token")
    device_option(s)

    # ---- gradcheck ---------------------------------------------------------------------------
    c = sub.add_parser("gradcheck", help="check every gradient of a small model by finite differences")
    c.add_argument("--layers", type=_positive_int, default=2)
    c.add_argument("--tie-weights", action="store_true")
    c.add_argument("--dropout", type=float, default=0.0)
    c.add_argument("--max-checks", type=int, default=None, help="entries checked per parameter")
    c.add_argument("--tolerance", type=float, default=1e-6)

    # ---- serve -------------------------------------------------------------------------------
    w = sub.add_parser("serve", help="a web page to try a trained model")
    w.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    w.add_argument("--host", default="127.0.0.1")
    w.add_argument("--port", type=int, default=8000)
    device_option(w)

    # ---- workbook ----------------------------------------------------------------------------
    from .workbook.cli import add_parser as add_workbook_parser

    add_workbook_parser(sub)
    return parser


# ----------------------------------------------------------------------------------------------
def _load_config_file(path) -> dict:
    if not Path(path).is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    values = runpy.run_path(str(path))
    allowed = {"data", "data_dir", "tokenizer", "tokenizer_options", "model", "train", "out", "device"}
    return {k: v for k, v in values.items() if k in allowed}


def _train_settings(args) -> dict:
    """Merge defaults < config file < command line into one settings dict."""
    settings = {"data": "covid", "data_dir": None, "tokenizer": "word", "tokenizer_options": {},
                "model": dict(embed_dim=200, hidden_dim=200, num_layers=2, dropout=0.2),
                "train": {}, "out": None, "device": None}
    if args.config:
        cfg = _load_config_file(args.config)
        for key in ("model", "train", "tokenizer_options"):
            settings[key].update(cfg.pop(key, {}) or {})
        settings.update(cfg)
    for key in ("data", "data_dir", "tokenizer", "out", "device"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    for arg, key in (("vocab_size", "vocab_size"), ("min_freq", "min_freq"), ("word_mode", "mode")):
        if getattr(args, arg) is not None:
            settings["tokenizer_options"][key] = getattr(args, arg)
    for key in MODEL_OPTIONS:
        if getattr(args, key, None) is not None:
            settings["model"][key] = getattr(args, key)
    for key in TRAIN_OPTIONS:
        if getattr(args, key, None) is not None:
            settings["train"][key] = getattr(args, key)
    if settings["train"].get("clip") == 0.0:
        settings["train"]["clip"] = None
    if settings["out"] is None:
        name = Path(str(settings["data"])).name or "corpus"
        settings["out"] = str(Path("runs") / f"{name}-{settings['tokenizer']}")
    return settings


def cmd_train(args) -> int:
    from .backend import resolve_device
    from .data import make_tokenizer, prepare_data
    from .generation import generate
    from .models import LSTMLanguageModel
    from .training import Trainer

    if args.resume:
        from .checkpoint import load_checkpoint

        ckpt = load_checkpoint(args.resume)
        meta = ckpt.user_meta
        settings = meta.get("extra", {}).get("cli_settings") or {}
        tokenizer = ckpt.tokenizer()
        data = args.data or settings.get("data", "covid")
        ids, chars = prepare_data(data, tokenizer, args.data_dir or settings.get("data_dir"), fit=False,
                                  max_chars=args.max_chars)
        overrides = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k, None) is not None}
        trainer = Trainer.resume(args.resume, ids, out_dir=args.out, device=resolve_device(args.device),
                                 chars=chars, **overrides)
        print(f"resuming {args.resume} at epoch {trainer.epoch}, step {trainer.window}")
        model = trainer.model
    else:
        settings = _train_settings(args)
        device = resolve_device(settings["device"])
        tokenizer = make_tokenizer(settings["tokenizer"], **settings["tokenizer_options"])
        print(f"data: {settings['data']} | tokenizer: {settings['tokenizer']} | device: {device}")
        ids, chars = prepare_data(settings["data"], tokenizer, settings["data_dir"], max_chars=args.max_chars)
        seed = settings["train"].get("seed", 0)
        model = LSTMLanguageModel(tokenizer.vocab_size, seed=seed, device=device,
                                  functional=args.functional, **settings["model"])
        print(f"{model}\ntrain tokens: {ids['train'].size:,} | vocabulary: {tokenizer.vocab_size:,}")
        trainer = Trainer(model, ids, settings["train"], tokenizer=tokenizer, out_dir=settings["out"], chars=chars)
        trainer.extra_meta["cli_settings"] = settings
    trainer.fit()
    if trainer.result.get("interrupted"):
        return EXIT_INTERRUPTED
    print(f"checkpoints, history and curves.png in {trainer.out_dir}")
    for k in range(args.samples):
        text = generate(model, trainer.tokenizer, "", max_new_tokens=60, temperature=0.8, seed=k)
        print(f"sample {k + 1}: {text.strip()}")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from .checkpoint import load_model
    from .data import prepare_data
    from .training import bits_per_char, evaluate, perplexity

    model, tokenizer = load_model(args.checkpoint, args.device)
    if tokenizer is None:
        raise ValueError(f"{args.checkpoint} holds no tokenizer, so its text cannot be encoded")
    ids, chars = prepare_data(args.data, tokenizer, args.data_dir, fit=False)
    if args.split not in ids:
        raise ValueError(f"corpus {args.data} has no {args.split} split")
    loss = evaluate(model, ids[args.split], args.batch_size, args.bptt)
    bpc = bits_per_char(loss, ids[args.split].size - 1, chars[args.split])
    print(f"{args.split}: loss {loss:.4f} nats/token | perplexity {perplexity(loss):.2f} | "
          f"{bpc:.4f} bits/char | {ids[args.split].size:,} tokens")
    return EXIT_OK


def cmd_generate(args) -> int:
    from .checkpoint import load_model
    from .generation import stream

    model, tokenizer = load_model(args.checkpoint, args.device)
    if tokenizer is None:
        raise ValueError(f"{args.checkpoint} holds no tokenizer; it cannot turn ids into text")
    sys.stdout.write(args.prompt)
    for token in stream(model, tokenizer, args.prompt, args.max_new_tokens, args.temperature,
                        args.top_k, args.top_p, args.seed, args.stop_at_eos):
        sys.stdout.write(token.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    return EXIT_OK


def cmd_gradcheck(args) -> int:
    from .backend import np
    from .gradcheck import check_model
    from .models import LSTMLanguageModel

    model = LSTMLanguageModel(13, 8, 8, args.layers, dropout=args.dropout, tie_weights=args.tie_weights,
                              dtype="float64", init="uniform", init_range=0.5, seed=0)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 13, (6, 3)), rng.integers(0, 13, (6, 3))
    result = check_model(model.train(), ids, targets, max_checks=args.max_checks)
    print(f"finite-difference check of {model}")
    print(result)
    ok = result.passed(args.tolerance)
    print("PASSED" if ok else f"FAILED: worst relative error {result.worst:.2e} >= {args.tolerance:g}")
    return EXIT_OK if ok else EXIT_FAILED


def cmd_serve(args) -> int:
    from .server import serve

    serve(args.checkpoint, host=args.host, port=args.port, device=args.device)
    return EXIT_OK


def cmd_workbook(args) -> int:
    from .workbook.cli import run

    return run(args)


def main(argv=None) -> int:
    from .backend import DeviceError
    from .checkpoint import CheckpointError
    from .training import TrainingDiverged

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "generate": cmd_generate,
               "gradcheck": cmd_gradcheck, "serve": cmd_serve, "workbook": cmd_workbook}[args.command]
    try:
        return handler(args)
    except TrainingDiverged as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, TypeError, FileNotFoundError, CheckpointError, DeviceError, UnicodeDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
