"""Command line: ``scratchlstm train | evaluate | generate | info | gradcheck | serve | workbook``.

(``python -m scratchlstm ...`` is the same program.) Examples::

    scratchlstm train                                  # the COVID corpus, word level, default model
    scratchlstm train --data covid --tokenizer char --epochs 5 --out runs/covid-char
    scratchlstm train --config recipes/ptb_small.py   # a recipe file
    scratchlstm train --model transformer --tokenizer char --out runs/covid-char-transformer
    scratchlstm train --resume runs/covid-word/last.npz
    scratchlstm info runs/covid-word/best.npz
    scratchlstm evaluate --checkpoint runs/covid-word/best.npz
    scratchlstm generate --checkpoint runs/covid-word/best.npz --prompt "the vaccine"
    scratchlstm serve --checkpoint runs/covid-word/best.npz
    scratchlstm gradcheck

The training options are generated from the fields of :mod:`scratchlstm.config` (one option per
field, with its help text and range), so the command line, recipe files and checkpoints use the
same names.

Exit codes (see EXIT_CODES_HELP): 0 success, 1 training diverged or a gradient check failed,
2 bad arguments or input, 3 a file could not be written or read (disk full, no permission),
4 aborted by a second interrupt before the checkpoint was saved, 5 unexpected internal error,
130 interrupted after saving (Ctrl-C, SIGTERM or SIGHUP: a resumable last.npz was written).
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import threading
import traceback
from dataclasses import fields, replace
from pathlib import Path

from . import __version__
from .config import (MODEL_CONFIGS, MODEL_KIND_OF_CLASS, DataConfig, LSTMConfig, RunConfig, TrainConfig,
                     TransformerConfig, build_run_config, describe_fields, flag_of, given_options,
                     load_recipe)
from .config import add_options as add_config_options

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

#: ``--help`` examples of every command.
EXAMPLES = {
    None: """examples:
  scratchlstm train                     # train on the shipped COVID corpus (word level)
  scratchlstm info runs/covid-word/best.npz
  scratchlstm generate --checkpoint runs/covid-word/best.npz --prompt "the vaccine"
  scratchlstm serve --checkpoint runs/covid-word/best.npz""",
    "train": """examples:
  scratchlstm train            # COVID corpus, words, 2 x 200 LSTM, 10 epochs:
                               # 2.5-5 min per epoch on 2 shared CPU cores
  scratchlstm train --max-chars 200000 --epochs 1    # a smoke run: about 2 min
  scratchlstm train --tokenizer bpe --vocab-size 4000 --tie-weights \\
                    --embed-dim 256 --hidden-dim 256
  scratchlstm train --config recipes/covid_char.py --epochs 3   # a recipe
  scratchlstm train --model transformer --tokenizer char --bptt 64
  scratchlstm train --data wikitext2 --download --word-mode whitespace
  scratchlstm train --resume runs/covid-word/last.npz --epochs 20""",
    "evaluate": """examples:
  scratchlstm evaluate --checkpoint runs/covid-word/best.npz   # its corpus, test split
  scratchlstm evaluate --checkpoint runs/covid-word/best.npz --split valid
  scratchlstm evaluate --checkpoint runs/covid-word/best.npz --data covid-articles""",
    "generate": """examples:
  scratchlstm generate --checkpoint runs/covid-word/best.npz --prompt "the vaccine"
  scratchlstm generate --checkpoint runs/covid-word/best.npz --top-p 0.9 --seed 1
  scratchlstm generate --checkpoint runs/covid-char/best.npz --temperature 0   # greedy""",
    "info": """examples:
  scratchlstm info runs/covid-word/best.npz
  scratchlstm info runs/covid-word/last.npz --json""",
    "gradcheck": """examples:
  scratchlstm gradcheck
  scratchlstm gradcheck --layers 3 --tie-weights --dropout 0.3""",
    "serve": """examples:
  scratchlstm serve --checkpoint runs/covid-word/best.npz   # open http://127.0.0.1:8000/
  scratchlstm serve --checkpoint runs/covid-word/best.npz --port 0   # any free port""",
}


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


_positive_float = _finite_float("> 0", lambda v: v > 0)
_nonnegative_float = _finite_float(">= 0", lambda v: v >= 0)
_probability = _finite_float("in [0, 1)", lambda v: 0 <= v < 1)
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


def _program_name() -> str:
    """``scratchlstm`` for the console script, ``python -m scratchlstm`` otherwise."""
    return "scratchlstm" if Path(sys.argv[0]).name == "scratchlstm" else "python -m scratchlstm"


def _shared_defaults(name: str) -> str:
    """The help's default of a model option both kinds have (dropout, tie_weights)."""
    return ", ".join(f"{kind} {getattr(cls(), name)}" for kind, cls in MODEL_CONFIGS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_program_name(),
        description="Train, evaluate and sample LSTM (and transformer) language models written "
                    "from scratch in NumPy (CuPy on a GPU).",
        epilog=EXAMPLES[None] + "\n\nRun `scratchlstm COMMAND --help` for the options of one "
               "command.\n\n" + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"scratchlstm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_command(name, **kwargs):
        """A sub-command whose --help ends with its examples and the exit codes."""
        return sub.add_parser(name, epilog=EXAMPLES[name] + "\n\n" + EXIT_CODES_HELP,
                              formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def device_option(p):
        p.add_argument("--device", default=None, choices=["cpu", "cuda", "auto"],
                       help="where to compute: cpu (NumPy), cuda (CuPy) or auto (GPU if available). "
                            "Default: $SCRATCHLSTM_DEVICE or cpu")

    def download_option(p):
        p.add_argument("--download", action="store_true",
                       help="fetch a named corpus that is missing (wikitext2, ptb, tinyshakespeare) "
                            "into the data folder, checking its sha256; without it nothing is "
                            "downloaded")

    # ---- train -------------------------------------------------------------------------------
    t = add_command("train", help="train a language model",
                    description="Train a language model. Settings come from the defaults, then a\n"
                                "recipe (--config), then the options given here. Each option is\n"
                                "also the name used in recipes and in checkpoints (--hidden-dim:\n"
                                "hidden_dim).")
    t.add_argument("--config", metavar="FILE.py", help="a recipe: a Python file assigning data, "
                   "data_dir, max_chars, tokenizer, tokenizer_options (dict), model (dict), "
                   "train (dict), out, device (see recipes/)")
    d = t.add_argument_group("data and tokenizer")
    add_config_options(d, DataConfig)
    download_option(d)
    m = t.add_argument_group("model", "--model chooses the kind; the options of the other kind "
                                      "are refused")
    m.add_argument("--model", choices=list(MODEL_CONFIGS), default=None,
                   help="lstm (default) or transformer (recipes: model = dict(kind=...))")
    shared = {"dropout": _shared_defaults("dropout"), "tie_weights": _shared_defaults("tie_weights")}
    add_config_options(m, LSTMConfig, defaults=shared)
    add_config_options(m, TransformerConfig, skip={f.name for f in fields(LSTMConfig)})
    o = t.add_argument_group("optimisation")
    add_config_options(o, TrainConfig)
    r = t.add_argument_group("run")
    r.add_argument("--out", metavar="DIR", help="output folder for checkpoints, history and plot "
                   "(default runs/<data>-<tokenizer>); a folder that already holds a run is refused "
                   "unless --overwrite")
    r.add_argument("--resume", metavar="CHECKPOINT", help="continue from a last.npz checkpoint "
                   "(its model, tokenizer and --max-chars are kept; training options may change)")
    r.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (otherwise train refuses to touch it)")
    r.add_argument("--samples", type=_nonnegative_int, default=1, metavar="N", help="sample texts to print at the end (default 1)")
    r.add_argument("--functional", metavar="TRACK_OR_DIR", default=None,
                   help="LSTM only: the forward/backward functions the layers run: fast (default), "
                        "reading (the plain reference), or a workbook folder: train your own LSTM")
    device_option(r)

    # ---- evaluate ----------------------------------------------------------------------------
    e = add_command("evaluate", help="loss, perplexity and bits/char of a checkpoint on a corpus")
    e.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    e.add_argument("--data", default=None, metavar="NAME_OR_PATH",
                   help="corpus name or a text file/folder (default: the corpus the checkpoint was "
                        "trained on, else covid)")
    e.add_argument("--data-dir", default=None, metavar="DIR",
                   help="folder holding the named corpora (default $SCRATCHLSTM_DATA)")
    download_option(e)
    e.add_argument("--split", default="test", choices=["train", "valid", "test"],
                   help="which split (default test)")
    e.add_argument("--batch-size", type=_positive_int, default=10, help="parallel streams (default 10)")
    e.add_argument("--bptt", type=_positive_int, default=35,
                   help="window length (default 35; at most a transformer's block size)")
    device_option(e)

    # ---- generate ----------------------------------------------------------------------------
    s = add_command("generate", help="continue a prompt with a trained model")
    s.add_argument("--checkpoint", required=True, metavar="FILE.npz")
    s.add_argument("--prompt", default="", help="text to continue (default: start from scratch)")
    s.add_argument("--max-new-tokens", type=_nonnegative_int, default=100, help="default 100")
    s.add_argument("--temperature", type=_temperature, default=1.0,
                   help="0 = greedy; <1 safer, >1 wilder (default 1)")
    s.add_argument("--top-k", type=_positive_int, default=None, help="sample among the k most likely tokens")
    s.add_argument("--top-p", type=_fraction, default=None, help="nucleus sampling, in (0, 1]")
    s.add_argument("--seed", type=_nonnegative_int, default=None, help="for the same text again")
    s.add_argument("--stop-at-eos", action=argparse.BooleanOptionalAction, default=False,
                   help="stop at the end-of-text token (default: no)")
    device_option(s)

    # ---- info --------------------------------------------------------------------------------
    i = add_command("info", help="what a checkpoint holds: model, tokenizer, settings, metrics",
                    description="Describe a checkpoint without building its model: the model and "
                                "its size, the tokenizer, the data and training settings, the "
                                "position, the best epoch and the metrics, the file size.")
    i.add_argument("checkpoint", metavar="CHECKPOINT")
    i.add_argument("--json", action="store_true", help="print the description as JSON")

    # ---- gradcheck ---------------------------------------------------------------------------
    c = add_command("gradcheck", help="check every gradient of a small model by finite differences")
    c.add_argument("--layers", type=_positive_int, default=2, help="LSTM layers (default 2)")
    c.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=False,
                   help="share embedding and decoder (default: no)")
    c.add_argument("--dropout", type=_probability, default=0.0, help="dropout probability (default 0)")
    c.add_argument("--max-checks", type=_positive_int, default=None,
                   help="entries checked per parameter (default: all)")
    c.add_argument("--tolerance", type=_positive_float, default=1e-6,
                   help="largest relative error that passes (default 1e-6)")

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
def _flag_used(args, name: str) -> str:
    """The spelling of field ``name``'s option that the user typed (``--layers`` for
    ``--num-layers``), for messages."""
    spellings = [flag_of(name)]
    for cls in (DataConfig, LSTMConfig, TransformerConfig, TrainConfig):
        for info in describe_fields(cls):
            if info.name == name:
                spellings += list(info.aliases)
    for word in getattr(args, "argv", None) or ():
        for spelling in spellings:
            if word == spelling or word.startswith(spelling + "="):
                return spelling
    return spellings[0]


def _model_kind_options(args, kind: str) -> dict:
    """The model options given for ``kind``; options only the other kind has are refused."""
    own = {f.name for f in fields(MODEL_CONFIGS[kind])}
    for other_kind, cls in MODEL_CONFIGS.items():
        for f in fields(cls):
            if f.name not in own and getattr(args, f.name, None) is not None:
                raise ValueError(f"{_flag_used(args, f.name)} is an option of the {other_kind} model, "
                                 f"not of the {kind} model (--model {kind}); its options: "
                                 f"{', '.join(flag_of(n) for n in sorted(own))}")
    return given_options(args, MODEL_CONFIGS[kind])


def run_config_from_args(args) -> RunConfig:
    """Defaults < recipe file (--config) < command line, as one :class:`RunConfig`."""
    layers = {"data": {}, "model": {}, "train": {}, "out": None, "device": None}
    if args.config:
        layers = load_recipe(args.config)
    layers["data"].update(given_options(args, DataConfig))
    kind = args.model or layers["model"].get("kind", "lstm")
    if args.model and layers["model"].get("kind", "lstm") != args.model:
        layers["model"] = {}           # a recipe's model of the other kind does not apply
    layers["model"].update(_model_kind_options(args, kind), kind=kind)
    layers["train"].update(given_options(args, TrainConfig))
    for key in ("out", "device"):
        if getattr(args, key) is not None:
            layers[key] = getattr(args, key)
    run = build_run_config(layers)
    if run.model.kind == "transformer" and run.train.bptt > run.model.block_size:
        raise ValueError(f"--bptt {run.train.bptt} is longer than the transformer's --block-size "
                         f"{run.model.block_size}: a training window must fit into the context. Pass "
                         f"--bptt {run.model.block_size} (or a larger --block-size)")
    return run


#: data option -> the key of the tokenizer's own config that holds it
_TOKENIZER_KEYS = {"vocab_size": "vocab_size", "min_freq": "min_freq", "word_mode": "mode"}


def _check_resume_flags(args, path, ckpt, tokenizer, data_config: DataConfig | None) -> None:
    """A resumed run keeps its model, tokenizer and data: refuse a flag that says otherwise."""
    def conflict(name, given, saved, what):
        flag = _flag_used(args, name)
        raise ValueError(f"{flag} {given} conflicts with {path}, whose {what} is {saved}: a resumed run "
                         f"keeps its {what.split(' ')[0]}. Drop {flag}, or start a new run (with --out "
                         "elsewhere) to change it.")

    if args.config:
        raise ValueError(f"--config cannot be combined with --resume: {path} carries its run's settings "
                         "(pass training options such as --epochs or --lr directly)")
    kind = MODEL_KIND_OF_CLASS.get(ckpt.model_class_name, "lstm")
    if args.model is not None and args.model != kind:
        conflict("model", args.model, kind, "model kind")
    model_config = ckpt.model_config
    for name, given in _model_kind_options(args, kind).items():
        if given != model_config.get(name):
            conflict(name, given, model_config.get(name), f"model {name}")
    if args.tokenizer is not None and args.tokenizer != tokenizer.kind:
        conflict("tokenizer", args.tokenizer, tokenizer.kind, "tokenizer kind")
    config = tokenizer.to_dict()["config"]
    for name, key in _TOKENIZER_KEYS.items():
        given = getattr(args, name)
        if given is not None and given != config.get(key, "not set"):
            conflict(name, given, config.get(key, f"not an option of the {tokenizer.kind} tokenizer"),
                     f"tokenizer {name}")
    if data_config is not None and args.max_chars is not None and args.max_chars != data_config.max_chars:
        saved = data_config.max_chars if data_config.max_chars is not None else "unset (whole corpus)"
        conflict("max_chars", args.max_chars, saved, "data --max-chars")


def _resume_trainer(args):
    from .backend import resolve_device
    from .checkpoint import CheckpointError, load_checkpoint
    from .data import prepare_data
    from .training import Trainer, prepare_out_dir, read_data_config

    path = Path(args.resume)
    ckpt = load_checkpoint(path)
    data_config = read_data_config(path, ckpt.user_meta)
    tokenizer = ckpt.tokenizer()
    if tokenizer is None:
        raise CheckpointError(f"{path} holds no tokenizer, so the corpus cannot be encoded as it was")
    _check_resume_flags(args, path, ckpt, tokenizer, data_config)
    out = Path(args.out) if args.out else path.parent
    prepare_out_dir(out, args.overwrite, resuming=path)
    data_config = data_config or DataConfig(tokenizer=tokenizer.kind)
    data_config = replace(data_config, **{k: getattr(args, k) for k in ("data", "data_dir", "max_chars")
                                          if getattr(args, k) is not None})
    ids, chars = prepare_data(data_config.data, tokenizer, data_config.data_dir, download=args.download,
                              fit=False, max_chars=data_config.max_chars)
    overrides = given_options(args, TrainConfig)
    trainer = Trainer.resume(path, ids, out_dir=out, device=resolve_device(args.device), chars=chars,
                             **overrides)
    trainer.data_config = data_config
    print(f"resuming {path} at epoch {trainer.epoch}, step {trainer.window}; results go to {out}")
    return trainer


def _next_steps(out: Path) -> str:
    best = out / "best.npz"
    return (f"checkpoints, history and curves.png in {out}\nnext:\n"
            f"  scratchlstm generate --checkpoint {best} --prompt \"...\"\n"
            f"  scratchlstm info {best}\n"
            f"  scratchlstm serve --checkpoint {best}")


def cmd_train(args) -> int:
    from .backend import resolve_device
    from .data import prepare_data
    from .generation import generate
    from .training import Trainer, prepare_out_dir

    if args.resume:
        trainer = _resume_trainer(args)
    else:
        run = run_config_from_args(args)
        device = resolve_device(run.device)
        tokenizer = run.data.make_tokenizer()
        out = run.out_dir()
        prepare_out_dir(out, args.overwrite)
        print(f"data: {run.data.data} | tokenizer: {run.data.tokenizer} | model: {run.model.kind} | "
              f"device: {device} | results go to {out}")
        ids, chars = prepare_data(run.data.data, tokenizer, run.data.data_dir, download=args.download,
                                  max_chars=run.data.max_chars)
        model = run.model.build(tokenizer.vocab_size, seed=run.train.seed, device=device,
                                functional=args.functional)
        print(f"{model}\ntrain tokens: {ids['train'].size:,} | vocabulary: {tokenizer.vocab_size:,}")
        trainer = Trainer(model, ids, run.train, tokenizer=tokenizer, out_dir=out, chars=chars,
                          data_config=run.data)
    trainer.fit()
    if trainer.result.get("interrupted"):
        print(f"resume with: scratchlstm train --resume {trainer.out_dir / 'last.npz'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    for k in range(args.samples):
        text = generate(trainer.model, trainer.tokenizer, "", max_new_tokens=60, temperature=0.8, seed=k)
        print(f"sample {k + 1}: {text.strip()}")
    print(_next_steps(trainer.out_dir))
    return EXIT_OK


def cmd_evaluate(args) -> int:
    from .checkpoint import load_checkpoint, load_model
    from .data import prepare_data
    from .progress import Progress
    from .text import bptt_windows
    from .training import _batchify_split, bits_per_char, evaluate, perplexity, read_data_config

    model, tokenizer = load_model(args.checkpoint, args.device)
    if tokenizer is None:
        raise ValueError(f"{args.checkpoint} holds no tokenizer, so its text cannot be encoded")
    saved = read_data_config(args.checkpoint, load_checkpoint(args.checkpoint, arrays=False).user_meta)
    data = args.data or (saved.data if saved is not None else "covid")
    data_dir = args.data_dir or (saved.data_dir if saved is not None and args.data is None else None)
    ids, chars = prepare_data(data, tokenizer, data_dir, download=args.download, fit=False)
    if args.split not in ids:
        raise ValueError(f"corpus {data} has no {args.split} split")
    bptt = args.bptt
    block = getattr(model, "block_size", None)
    if block is not None and bptt > block:
        print(f"--bptt {bptt} is longer than the transformer's context ({block} tokens): using {block}")
        bptt = block
    batches = _batchify_split(ids, args.split, args.batch_size, "batch_size")
    with Progress(len(bptt_windows(batches, bptt)), f"{data} {args.split}") as bar:
        loss = evaluate(model, batches, args.batch_size, bptt, progress=bar.update)
    bpc = bits_per_char(loss, ids[args.split].size - 1, chars[args.split])
    print(f"{data} {args.split}: loss {loss:.4f} nats/token | perplexity {perplexity(loss):.2f} | "
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


def cmd_info(args) -> int:
    import json  # noqa: PLC0415

    from .checkpoint_info import describe_checkpoint, format_description

    description = describe_checkpoint(args.checkpoint)
    print(json.dumps(description, indent=2) if args.json else format_description(description))
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


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see EXIT_CODES_HELP)."""
    from .backend import DeviceError
    from .checkpoint import CheckpointError, OutputError
    from .training import TrainingAborted, TrainingDiverged

    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(words)
    args.argv = [str(w) for w in words]          # which spelling of an option was typed, for messages
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler = {"train": cmd_train, "evaluate": cmd_evaluate, "generate": cmd_generate, "info": cmd_info,
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
