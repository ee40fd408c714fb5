"""Command line: ``python -m scratchlstm train | evaluate | generate | gradcheck | serve``.

Examples::

    python -m scratchlstm train --data covid --tokenizer word --epochs 5 --out runs/covid-word
    python -m scratchlstm train --config benchmarks/configs/ptb_small.py
    python -m scratchlstm train --resume runs/covid-word/last.npz
    python -m scratchlstm evaluate --checkpoint runs/covid-word/best.npz --data covid
    python -m scratchlstm generate --checkpoint runs/covid-word/best.npz --prompt "the vaccine"
    python -m scratchlstm gradcheck

Exit codes (see EXIT_CODES_HELP): 0 success, 1 training diverged or a gradient check failed,
2 bad arguments or input, 3 a file could not be written or read (disk full, no permission),
4 aborted by a second interrupt before the checkpoint was saved, 5 unexpected internal error,
130 interrupted after saving (Ctrl-C, SIGTERM or SIGHUP: a resumable last.npz was written).
"""
from __future__ import annotations

import argparse
import math
import os
import runpy
import signal
import sys
import threading
import traceback
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_IO, EXIT_ABORTED, EXIT_INTERNAL = 0, 1, 2, 3, 4, 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """exit codes:
  0    success
  1    training diverged (NaN/inf or an absurd loss) or a gradient check failed
  2    bad arguments or input (the message names the option or file)
  3    a file could not be written or read (disk full, no permission); earlier files are intact
  4    aborted by a second Ctrl-C/SIGTERM/SIGHUP before the checkpoint was saved
       (earlier checkpoints are intact)
  5    unexpected internal error (a bug: set SCRATCHLSTM_DEBUG=1 for the traceback)
  130  interrupted after saving (Ctrl-C, SIGTERM or SIGHUP): resume from last.npz"""

#: The files a training run writes into its --out folder.
RUN_FILES = ("best.npz", "last.npz", "history.json", "history.csv", "curves.png")

MODEL_OPTIONS = ("embed_dim", "hidden_dim", "num_layers", "dropout", "tie_weights", "locked_dropout",
                 "init", "init_range", "forget_bias")
TRAIN_OPTIONS = ("epochs", "batch_size", "eval_batch_size", "bptt", "variable_bptt", "optimizer", "lr",
                 "momentum", "weight_decay", "clip", "schedule", "plateau_factor", "plateau_patience",
                 "decay_start", "decay_factor", "warmup_steps", "min_lr", "patience", "seed",
                 "max_steps_per_epoch")


def _int_at_least(low: int, what: str):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    parse.__name__ = what
    return parse


_positive_int = _int_at_least(1, "a positive integer")
_nonnegative_int = _int_at_least(0, "an integer >= 0")


def _finite_float(wanted: str = "", inside=lambda v: True):
    """An argparse type: a float that is finite (NaN and inf are refused) and ``inside(value)``."""
    what = f"a finite number{' ' + wanted if wanted else ''}"

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
        if not math.isfinite(value) or not inside(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value
    parse.__name__ = what
    return parse


_any_finite = _finite_float()
_positive_float = _finite_float("> 0", lambda v: v > 0)
_nonnegative_float = _finite_float(">= 0", lambda v: v >= 0)
_probability = _finite_float("in [0, 1)", lambda v: 0 <= v < 1)
_open_unit = _finite_float("in (0, 1)", lambda v: 0 < v < 1)
_fraction = _finite_float("in (0, 1]", lambda v: 0 < v <= 1)


def _temperature(text):
    from .generation import validate_sampling  # noqa: PLC0415

    value = _nonnegative_float(text)
    try:
        validate_sampling(temperature=value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _port(text):
    value = _nonnegative_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port in 0..65535 (0: any free port), got {text}")
    return value


def _clip(text):
    if text.lower() in ("none", "off", "0"):
        return 0.0
    return _positive_float(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scratchlstm",
        description="Train, evaluate and sample LSTM language models written from scratch in NumPy "
                    "(CuPy on a GPU).",
        epilog="Run `python -m scratchlstm COMMAND --help` for the options of one command.\n\n"
               + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_command(name, **kwargs):
        """A sub-command whose --help ends with the exit codes."""
        return sub.add_parser(name, epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                          **kwargs)

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
    t = add_command("train", help="train a language model",
                       description="Train an LSTM language model. Options on the command line override "
                                   "those of --config.")
    t.add_argument("--config", metavar="FILE.py", help="a Python file defining data, tokenizer, "
                   "tokenizer_options, model (dict), train (dict) and out")
    data_options(t)
    t.add_argument("--tokenizer", choices=["char", "word", "bpe", "unigram"], help="unit of text (default word)")
    t.add_argument("--vocab-size", type=_positive_int, help="BPE/unigram vocabulary size (default 2000)")
    t.add_argument("--min-freq", type=_nonnegative_int, help="word tokenizer: rarer words become <unk> (default 3)")
    t.add_argument("--word-mode", choices=["basic_english", "cased", "whitespace"],
                   help="word tokenizer mode (whitespace: split on spaces only, for corpora that are "
                        "already tokenised, such as WikiText-2 and PTB)")
    g = t.add_argument_group("model")
    g.add_argument("--embed-dim", type=_positive_int, help="embedding size (default 200)")
    g.add_argument("--hidden-dim", type=_positive_int, help="LSTM units per layer (default 200)")
    g.add_argument("--layers", dest="num_layers", type=_positive_int, help="LSTM layers (default 2)")
    g.add_argument("--dropout", type=_probability, help="dropout probability (default 0.2)")
    g.add_argument("--tie-weights", action="store_true", default=None, help="share embedding and decoder")
    g.add_argument("--locked-dropout", action="store_true", default=None, help="one mask per sequence")
    g.add_argument("--init", choices=["default", "uniform"], help="weight initialisation scheme")
    g.add_argument("--init-range", type=_positive_float, help="bound for --init uniform (default 0.1)")
    g.add_argument("--forget-bias", type=_any_finite, help="initial forget-gate bias (default 0)")
    o = t.add_argument_group("optimisation")
    o.add_argument("--epochs", type=_positive_int, help="maximum epochs (default 10)")
    o.add_argument("--batch-size", type=_positive_int, help="parallel streams (default 20)")
    o.add_argument("--eval-batch-size", type=_positive_int, help="streams for evaluation (default 10)")
    o.add_argument("--bptt", type=_positive_int, help="truncated-BPTT window (default 35)")
    o.add_argument("--variable-bptt", action="store_true", default=None, help="jitter the window length")
    o.add_argument("--optimizer", choices=["adam", "adamw", "sgd"], help="default adam")
    o.add_argument("--lr", type=_positive_float, help="learning rate (default 0.002)")
    o.add_argument("--momentum", type=_probability, help="SGD momentum, in [0, 1)")
    o.add_argument("--weight-decay", type=_nonnegative_float, help="L2 (adam, sgd) or decoupled (adamw) decay")
    o.add_argument("--clip", type=_clip, help="global gradient-norm limit, or 'none' (default 0.25)")
    o.add_argument("--schedule", choices=["plateau", "epoch_decay", "cosine", "none"],
                   help="learning-rate schedule (default plateau)")
    o.add_argument("--plateau-factor", type=_open_unit, help="lr factor when validation stalls (default 0.25)")
    o.add_argument("--decay-start", type=_nonnegative_int, help="epoch_decay: first epoch to decay after")
    o.add_argument("--decay-factor", type=_fraction, help="epoch_decay: factor per epoch")
    o.add_argument("--warmup-steps", type=_nonnegative_int, help="cosine: warm-up steps")
    o.add_argument("--patience", type=_positive_int, help="early stopping after N epochs without improvement")
    o.add_argument("--max-steps-per-epoch", type=_positive_int, help="cap windows per epoch (quick runs)")
    o.add_argument("--seed", type=_nonnegative_int, help="seed for weights, dropout and sampling (default 0)")
    t.add_argument("--max-chars", type=_positive_int, metavar="N",
                   help="use only the first N characters of each split (a quick smoke run; saved in "
                        "the checkpoint and reused by --resume)")
    t.add_argument("--out", metavar="DIR", help="output folder for checkpoints, history and plot "
                   "(default runs/<data>-<tokenizer>); a folder that already holds a run is refused "
                   "unless --overwrite")
    t.add_argument("--resume", metavar="CHECKPOINT", help="continue from a last.npz checkpoint "
                   "(its model, tokenizer and --max-chars are kept; training options may change)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (otherwise train refuses to touch it)")
    t.add_argument("--samples", type=_nonnegative_int, default=1, help="sample texts to print at the end (default 1)")
    t.add_argument("--functional", metavar="TRACK_OR_DIR", default=None,
                   help="the forward/backward functions the layers run: fast (default), reading "
                        "(the plain reference), or a workbook folder: train your own LSTM")
    device_option(t)

    # ---- evaluate ----------------------------------------------------------------------------
    e = add_command("evaluate", help="loss, perplexity and bits/char of a checkpoint on a corpus")
    e.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    data_options(e, default="covid")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("--batch-size", type=_positive_int, default=10)
    e.add_argument("--bptt", type=_positive_int, default=35)
    device_option(e)

    # ---- generate ----------------------------------------------------------------------------
    s = add_command("generate", help="continue a prompt with a trained model")
    s.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    s.add_argument("--prompt", default="", help="text to continue (default: start from scratch)")
    s.add_argument("--max-new-tokens", type=_nonnegative_int, default=100)
    s.add_argument("--temperature", type=_temperature, default=1.0, help="0 = greedy; <1 safer, >1 wilder")
    s.add_argument("--top-k", type=_positive_int, default=None)
    s.add_argument("--top-p", type=_fraction, default=None, help="nucleus sampling, in (0, 1]")
    s.add_argument("--seed", type=_nonnegative_int, default=None)
    s.add_argument("--stop-at-eos", action="store_true", help="stop at the end-of-text token")
    device_option(s)

    # ---- gradcheck ---------------------------------------------------------------------------
    c = add_command("gradcheck", help="check every gradient of a small model by finite differences")
    c.add_argument("--layers", type=_positive_int, default=2)
    c.add_argument("--tie-weights", action="store_true")
    c.add_argument("--dropout", type=_probability, default=0.0)
    c.add_argument("--max-checks", type=_positive_int, default=None,
                   help="entries checked per parameter (default: all)")
    c.add_argument("--tolerance", type=_positive_float, default=1e-6)

    # ---- serve -------------------------------------------------------------------------------
    w = add_command("serve", help="a web page to try a trained model")
    w.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    w.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes "
                        "the model to the network, without authentication)")
    w.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000; 0: any free port)")
    w.add_argument("--max-generations", type=_positive_int, default=None,
                   help="generations running at once; more get 503 with Retry-After (default 4)")
    w.add_argument("--queue-timeout", type=_nonnegative_float, default=None, metavar="SECONDS",
                   help="how long a request waits for a free generation before 503 (default 10)")
    w.add_argument("--request-timeout", type=_positive_float, default=None, metavar="SECONDS",
                   help="time a client may take to send its request (default 10)")
    device_option(w)

    # ---- workbook ----------------------------------------------------------------------------
    from .workbook.cli import add_parser as add_workbook_parser

    add_workbook_parser(sub)
    return parser


# ----------------------------------------------------------------------------------------------
def _load_config_file(path) -> dict:
    if not Path(path).is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        values = runpy.run_path(str(path))
    except Exception as exc:          # a config file is the user's Python: report, don't crash
        raise ValueError(f"config file {path} failed to run: {type(exc).__name__}: {exc}") from None
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
    settings["max_chars"] = args.max_chars          # saved, so that --resume reads the same text
    if settings["out"] is None:
        name = Path(str(settings["data"])).name or "corpus"
        settings["out"] = str(Path("runs") / f"{name}-{settings['tokenizer']}")
    return settings


def _prepare_out_dir(out: Path, overwrite: bool, resuming: Path | None = None) -> None:
    """Refuse to mix a new run into a folder that holds another one, unless --overwrite.

    Resuming into the checkpoint's own folder continues that run, so it is allowed.
    """
    existing = [name for name in RUN_FILES if (out / name).exists()]
    if not existing or (resuming is not None and out.resolve() == resuming.parent.resolve()):
        return
    if not overwrite:
        hint = f"--resume {out / 'last.npz'} to continue it, " if "last.npz" in existing else ""
        raise ValueError(f"{out} already holds a training run ({', '.join(existing)}); nothing was "
                         f"changed. Pass --overwrite to replace it, {hint}or --out to choose "
                         "another folder.")
    for name in existing:
        (out / name).unlink()
    print(f"--overwrite: removed the previous run's {', '.join(existing)} from {out}")


#: train flag -> (where the checkpoint keeps it, the key there), for the conflict check of --resume
_MODEL_FLAGS = {"embed_dim": "--embed-dim", "hidden_dim": "--hidden-dim", "num_layers": "--layers",
                "dropout": "--dropout", "tie_weights": "--tie-weights", "locked_dropout": "--locked-dropout",
                "init": "--init", "init_range": "--init-range", "forget_bias": "--forget-bias"}
_TOKENIZER_FLAGS = {"vocab_size": ("--vocab-size", "vocab_size"), "min_freq": ("--min-freq", "min_freq"),
                    "word_mode": ("--word-mode", "mode")}


def _check_resume_flags(args, path, model_config: dict, tokenizer, settings: dict) -> None:
    """A resumed run keeps its model, tokenizer and data: refuse a flag that says otherwise."""
    def conflict(flag, given, saved, what):
        raise ValueError(f"{flag} {given} conflicts with {path}, whose {what} is {saved}: a resumed run "
                         f"keeps its {what.split(' ')[0]}. Drop {flag}, or start a new run (with --out "
                         "elsewhere) to change it.")

    if args.config:
        raise ValueError(f"--config cannot be combined with --resume: {path} carries its run's settings "
                         "(pass training options such as --epochs or --lr directly)")
    for key, flag in _MODEL_FLAGS.items():
        given = getattr(args, key, None)
        if given is not None and given != model_config.get(key):
            conflict(flag, given, model_config.get(key), f"model {key}")
    if tokenizer is not None:
        if args.tokenizer is not None and args.tokenizer != tokenizer.kind:
            conflict("--tokenizer", args.tokenizer, tokenizer.kind, "tokenizer kind")
        config = tokenizer.to_dict()["config"]
        for arg, (flag, key) in _TOKENIZER_FLAGS.items():
            given = getattr(args, arg)
            if given is not None and given != config.get(key, "not set"):
                conflict(flag, given, config.get(key, f"not an option of the {tokenizer.kind} tokenizer"),
                         f"tokenizer {key}")
    if "max_chars" in settings and args.max_chars is not None and args.max_chars != settings["max_chars"]:
        saved = settings["max_chars"] if settings["max_chars"] is not None else "unset (whole corpus)"
        conflict("--max-chars", args.max_chars, saved, "data --max-chars")


def _resume_trainer(args):
    from .backend import resolve_device
    from .checkpoint import CheckpointError, load_checkpoint
    from .data import prepare_data
    from .training import Trainer

    path = Path(args.resume)
    ckpt = load_checkpoint(path)
    meta = ckpt.user_meta
    extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    settings = extra.get("cli_settings") if isinstance(extra.get("cli_settings"), dict) else {}
    tokenizer = ckpt.tokenizer()
    if tokenizer is None:
        raise CheckpointError(f"{path} holds no tokenizer, so the corpus cannot be encoded as it was")
    _check_resume_flags(args, path, ckpt.model_config, tokenizer, settings)
    out = Path(args.out) if args.out else path.parent
    _prepare_out_dir(out, args.overwrite, resuming=path)
    max_chars = args.max_chars if args.max_chars is not None else settings.get("max_chars")
    data = args.data or settings.get("data", "covid")
    ids, chars = prepare_data(data, tokenizer, args.data_dir or settings.get("data_dir"), fit=False,
                              max_chars=max_chars)
    overrides = {k: getattr(args, k) for k in TRAIN_OPTIONS if getattr(args, k, None) is not None}
    if overrides.get("clip") == 0.0:                # --clip none
        overrides["clip"] = None
    trainer = Trainer.resume(path, ids, out_dir=out, device=resolve_device(args.device), chars=chars,
                             **overrides)
    print(f"resuming {path} at epoch {trainer.epoch}, step {trainer.window}; results go to {out}")
    return trainer


def cmd_train(args) -> int:
    from .backend import resolve_device
    from .data import make_tokenizer, prepare_data
    from .generation import generate
    from .models import LSTMLanguageModel
    from .training import Trainer

    if args.resume:
        trainer = _resume_trainer(args)
    else:
        settings = _train_settings(args)
        device = resolve_device(settings["device"])
        tokenizer = make_tokenizer(settings["tokenizer"], **settings["tokenizer_options"])
        out = Path(settings["out"])
        _prepare_out_dir(out, args.overwrite)
        print(f"data: {settings['data']} | tokenizer: {settings['tokenizer']} | device: {device} | "
              f"results go to {out}")
        ids, chars = prepare_data(settings["data"], tokenizer, settings["data_dir"], max_chars=args.max_chars)
        seed = settings["train"].get("seed", 0)
        model = LSTMLanguageModel(tokenizer.vocab_size, seed=seed, device=device,
                                  functional=args.functional, **settings["model"])
        print(f"{model}\ntrain tokens: {ids['train'].size:,} | vocabulary: {tokenizer.vocab_size:,}")
        trainer = Trainer(model, ids, settings["train"], tokenizer=tokenizer, out_dir=out, chars=chars)
        trainer.extra_meta["cli_settings"] = settings
    trainer.fit()
    if trainer.result.get("interrupted"):
        print(f"resume with: python -m scratchlstm train --resume {trainer.out_dir / 'last.npz'}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"checkpoints, history and curves.png in {trainer.out_dir}")
    for k in range(args.samples):
        text = generate(trainer.model, trainer.tokenizer, "", max_new_tokens=60, temperature=0.8, seed=k)
        print(f"sample {k + 1}: {text.strip()}")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from .checkpoint import load_model
    from .data import prepare_data
    from .training import _batchify_split, bits_per_char, evaluate, perplexity

    model, tokenizer = load_model(args.checkpoint, args.device)
    if tokenizer is None:
        raise ValueError(f"{args.checkpoint} holds no tokenizer, so its text cannot be encoded")
    ids, chars = prepare_data(args.data, tokenizer, args.data_dir, fit=False)
    if args.split not in ids:
        raise ValueError(f"corpus {args.data} has no {args.split} split")
    data = _batchify_split(ids, args.split, args.batch_size, "batch_size")
    loss = evaluate(model, data, args.batch_size, args.bptt)
    bpc = bits_per_char(loss, ids[args.split].size - 1, chars[args.split])
    print(f"{args.split}: loss {loss:.4f} nats/token | perplexity {perplexity(loss):.2f} | "
          f"{bpc:.4f} bits/char | {ids[args.split].size:,} tokens")
    return EXIT_OK


def cmd_generate(args) -> int:
    from .checkpoint import load_model
    from .generation import stream, validate_prompt

    try:
        validate_prompt(args.prompt)
    except ValueError as exc:
        raise ValueError(f"--prompt: {exc}") from None
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

    serve(args.checkpoint, host=args.host, port=args.port, device=args.device,
          max_generations=args.max_generations, request_timeout=args.request_timeout,
          queue_timeout=args.queue_timeout)
    return EXIT_OK


def cmd_workbook(args) -> int:
    from .workbook.cli import run

    return run(args)


def _stop_like_ctrl_c(signum, frame):
    """SIGTERM and SIGHUP end a command the way Ctrl-C does (training installs its own, politer
    handler that saves a checkpoint first)."""
    raise KeyboardInterrupt


def _install_stop_signals() -> None:
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:   # nohup stays nohup
            signal.signal(sig, _stop_like_ctrl_c)


def _error(message) -> None:
    try:
        print(f"error: {message}", file=sys.stderr)
    except OSError:                 # no terminal left to tell (SIGHUP)
        pass


def main(argv=None) -> int:
    from .backend import DeviceError
    from .checkpoint import CheckpointError, OutputError
    from .training import TrainingAborted, TrainingDiverged

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "generate": cmd_generate,
               "gradcheck": cmd_gradcheck, "serve": cmd_serve, "workbook": cmd_workbook}[args.command]
    if argv is None and threading.current_thread() is threading.main_thread():   # python -m scratchlstm
        _install_stop_signals()
    try:
        return handler(args)
    except TrainingAborted as exc:
        _error(f"{exc} (exit code {EXIT_ABORTED}: the newest progress was not saved)")
        return EXIT_ABORTED
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except TrainingDiverged as exc:
        _error(exc)
        return EXIT_FAILED
    except OutputError as exc:
        _error(exc)
        return EXIT_IO
    except BrokenPipeError:            # the reader of our output went away (``| head``)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_IO
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        _error(exc)
        return EXIT_USAGE
    except (ValueError, TypeError, CheckpointError, DeviceError) as exc:
        _error(exc)
        return EXIT_USAGE
    except MemoryError:
        _error("not enough memory: choose a smaller model (--embed-dim, --hidden-dim, --layers, "
               "--vocab-size) or a smaller --batch-size")
        return EXIT_USAGE
    except OSError as exc:
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_IO
    except Exception as exc:          # a bug: one clear line, the traceback on request
        if os.environ.get("SCRATCHLSTM_DEBUG"):
            traceback.print_exc()
        _error(f"unexpected {type(exc).__name__}: {exc}. This is a bug in scratchlstm; set "
               "SCRATCHLSTM_DEBUG=1 to see the traceback, and please report it.")
        return EXIT_INTERNAL
