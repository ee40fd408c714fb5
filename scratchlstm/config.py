"""One source of settings: what to read, what model to build, how to train it.

Three dataclasses hold every setting of a training run, each field with its default, its help
text and its allowed range:

* :class:`DataConfig`: the corpus, how much of it, and the tokenizer;
* :class:`LSTMConfig` or :class:`TransformerConfig` (:data:`MODEL_CONFIGS`): the model's shape;
* :class:`TrainConfig`: the optimisation (epochs, batch, learning rate, schedule, ...).

The same names are used everywhere: a field ``hidden_dim`` is the command-line flag
``--hidden-dim``, the key ``hidden_dim`` in a recipe file's ``model = dict(...)``, the keyword
of :class:`~scratchlstm.models.LSTMLanguageModel`, and the key in a checkpoint's
``model_config``. The command line is generated from these fields (:func:`add_options`), a recipe
file is checked against them (:func:`load_recipe`: a misspelt name is an error that suggests the
closest valid one), and checkpoints store them, so ``--resume`` reads back what was given.

A recipe file is plain Python that assigns some of these names::

    data = "covid"                                   # DataConfig fields at the top level
    tokenizer = "bpe"
    tokenizer_options = dict(vocab_size=4000)        # the tokenizer's DataConfig fields
    model = dict(hidden_dim=256, embed_dim=256, tie_weights=True)   # kind="transformer" for one
    train = dict(epochs=8, lr=3e-3)                  # TrainConfig fields
    out = "runs/covid-bpe"
    device = "cuda"                                  # optional
"""
from __future__ import annotations

import argparse
import difflib
import math
import numbers
import runpy
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:                      # names for type hints only (importing them here would cycle)
    from .models import LSTMLanguageModel
    from .text.base import Tokenizer
    from .transformer import TransformerLanguageModel

T = TypeVar("T")

# ----------------------------------------------------------------------------------------------
# Fields with help and ranges
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """Allowed values of a number: ``low``/``high`` bounds (None: unbounded), each inclusive or
    not. Every number must also be finite (NaN fails every comparison, so it is refused first)."""

    low: float | None = None
    high: float | None = None
    low_inclusive: bool = True
    high_inclusive: bool = True

    def __contains__(self, value) -> bool:
        if not math.isfinite(value):
            return False
        if self.low is not None and not (value >= self.low if self.low_inclusive else value > self.low):
            return False
        if self.high is not None and not (value <= self.high if self.high_inclusive else value < self.high):
            return False
        return True

    def describe(self) -> str:
        """``"> 0"``, ``">= 1"``, ``"in [0, 1)"``, or ``""`` for any finite number."""
        if self.low is not None and self.high is not None:
            return (f"in {'[' if self.low_inclusive else '('}{self.low:g}, {self.high:g}"
                    f"{']' if self.high_inclusive else ')'}")
        if self.low is not None:
            return f"{'>=' if self.low_inclusive else '>'} {self.low:g}"
        if self.high is not None:
            return f"{'<=' if self.high_inclusive else '<'} {self.high:g}"
        return ""


POSITIVE = Range(0, None, low_inclusive=False)
AT_LEAST_0 = Range(0)
AT_LEAST_1 = Range(1)
PROBABILITY = Range(0, 1, high_inclusive=False)       # [0, 1): a dropout rate, a momentum
OPEN_UNIT = Range(0, 1, False, False)                 # (0, 1)
FRACTION = Range(0, 1, low_inclusive=False)           # (0, 1]
ANY = Range()


def setting(default, help: str, *, range: Range | None = None, choices: tuple | None = None,
            aliases: tuple = (), none_words: tuple = (), cli: bool = True, shown: str | None = None) -> typing.Any:
    """A dataclass field that knows its help text and allowed values.

    Parameters
    ----------
    default : the default value (a list or dict default is not used by these configs)
    help : one line for ``--help``; the default is appended automatically
    range : allowed numbers (integers and floats are always checked for type and finiteness)
    choices : allowed strings
    aliases : further command-line spellings (``--layers`` for ``--num-layers``)
    none_words : strings that mean None on the command line (``--clip none``)
    cli : False keeps the field out of the command line
    shown : how ``--help`` names the default (e.g. "the whole corpus" for None)
    """
    return field(default=default, metadata=dict(help=help, range=range, choices=choices,
                                                aliases=aliases, none_words=none_words, cli=cli,
                                                shown=shown))


def flag_of(name: str) -> str:
    """The command-line flag of a field: ``hidden_dim`` -> ``--hidden-dim``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class FieldInfo:
    """What :func:`describe_fields` knows about one field: its name, base type (int, float, str
    or bool), whether None is allowed, the default and the metadata of :func:`setting`."""

    name: str
    kind: type
    optional: bool
    default: object
    help: str
    range: Range | None
    choices: tuple | None
    aliases: tuple
    none_words: tuple
    cli: bool
    shown: str | None = None

    @property
    def flag(self) -> str:
        return flag_of(self.name)

    def wanted(self) -> str:
        """Words for the allowed values: ``"an integer >= 1"``, ``"a finite number in [0, 1)"``."""
        if self.choices:
            text = "one of " + ", ".join(repr(c) for c in self.choices)
        elif self.kind is bool:
            text = "True or False"
        elif self.kind is int and self.range == AT_LEAST_1:
            text = "a positive integer"
        elif self.kind is int:
            text = "an integer" + (f" {self.range.describe()}" if self.range and self.range.describe() else "")
        elif self.kind is float:
            text = "a finite number" + (f" {self.range.describe()}" if self.range and self.range.describe() else "")
        else:
            text = "a string"
        return text + (" or None" if self.optional else "")

    def check(self, value) -> object:
        """Return ``value`` (ints given for floats become floats) or raise a ValueError naming the
        field, its flag, what is allowed and what was given."""
        if value is None and self.optional:
            return None
        ok = False
        if self.kind is bool:
            if getattr(value, "dtype", None) is not None and value.dtype.kind == "b" and value.ndim == 0:
                value = bool(value)                  # a NumPy bool
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool) and \
                (self.range is None or value in self.range)
        elif self.kind is float:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
                (value in (self.range or ANY))
        else:
            ok = isinstance(value, str) and (not self.choices or value in self.choices)
        if not ok:
            raise ValueError(f"{self.name} ({self.flag}) must be {self.wanted()}, got {value!r}")
        if self.kind is float:
            return float(value)
        if self.kind is int:
            return int(value)
        return value                                 # str, or bool


def _base_type(annotation) -> tuple[type, bool]:
    """(int|float|str|bool, optional) of an annotation such as ``int | None``."""
    args = typing.get_args(annotation)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in args if a is not type(None)]
        return kinds[0], type(None) in args
    return annotation, False


def describe_fields(cls) -> list[FieldInfo]:
    """The :class:`FieldInfo` of every field of a config dataclass, in order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        kind, optional = _base_type(hints[f.name])
        m = f.metadata
        out.append(FieldInfo(f.name, kind, optional, f.default if f.default is not MISSING else None,
                             m.get("help", ""), m.get("range"), m.get("choices"), m.get("aliases", ()),
                             m.get("none_words", ()), m.get("cli", True), m.get("shown")))
    return out


def check_fields(config) -> None:
    """Validate (and normalise: ints to floats where a float is wanted) every field in place."""
    for info in describe_fields(type(config)):
        object.__setattr__(config, info.name, info.check(getattr(config, info.name)))


def closest(name: str, known) -> str:
    """`` (did you mean 'model'?)`` for a misspelt name, or ``""`` when nothing is close."""
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def unknown_names_error(what: str, unknown, known) -> ValueError:
    """A ValueError for misspelt names: each with the closest valid one, then the valid ones."""
    parts = [f"{name!r}{closest(name, known)}" for name in sorted(unknown)]
    return ValueError(f"unknown {what} {', '.join(parts)}; valid: {', '.join(sorted(known))}")


def from_dict(cls: type[T], values: dict, what: str) -> T:
    """``cls(**values)``, refusing unknown keys with a suggestion of the closest valid name."""
    if not isinstance(values, dict):
        raise TypeError(f"{what} must be a dict, got {type(values).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise unknown_names_error(what, unknown, known)
    return cls(**values)


# ----------------------------------------------------------------------------------------------
# The configs
# ----------------------------------------------------------------------------------------------
TOKENIZER_KINDS = ("char", "word", "bpe", "unigram")
WORD_MODES = ("basic_english", "cased", "whitespace")

#: The DataConfig fields that configure the tokenizer (a recipe's ``tokenizer_options``).
TOKENIZER_OPTIONS = ("vocab_size", "min_freq", "word_mode")


@dataclass
class DataConfig:
    """What text to train on and how to cut it into tokens."""

    data: str = setting("covid", "corpus name (covid, covid-articles, wikitext2, ptb, tinyshakespeare) "
                                 "or a text file or folder")
    data_dir: str | None = setting(None, "folder holding the named corpora other than covid, which "
                                         "ships with the package",
                                   shown="$SCRATCHLSTM_DATA, else ~/.cache/scratchlstm/data")
    max_chars: int | None = setting(None, "use only the first N characters of each split (a quick "
                                          "smoke run; saved in the checkpoint and reused by --resume)",
                                    range=AT_LEAST_1, shown="the whole corpus")
    tokenizer: str = setting("word", "unit of text", choices=TOKENIZER_KINDS)
    vocab_size: int = setting(2000, "bpe/unigram: vocabulary size", range=AT_LEAST_1)
    min_freq: int = setting(3, "word: rarer words become <unk>", range=AT_LEAST_0)
    word_mode: str = setting("basic_english", "word: basic_english (lower-case, torchtext's rules), "
                                              "cased, or whitespace (split on spaces only, for "
                                              "corpora that are already tokenised: WikiText-2, PTB)",
                             choices=WORD_MODES)

    def __post_init__(self):
        if isinstance(self.data, Path):
            self.data = str(self.data)
        if isinstance(self.data_dir, Path):
            self.data_dir = str(self.data_dir)
        check_fields(self)

    def tokenizer_options(self) -> dict:
        """The options of :func:`scratchlstm.data.make_tokenizer` that this tokenizer kind uses."""
        used = {"char": (), "word": ("min_freq", "word_mode"), "bpe": ("vocab_size",),
                "unigram": ("vocab_size",)}[self.tokenizer]
        return {name: getattr(self, name) for name in used}

    def make_tokenizer(self) -> "Tokenizer":
        """A fresh (unfitted) tokenizer of this kind and these options."""
        from .data import make_tokenizer  # noqa: PLC0415 - data imports the text package

        return make_tokenizer(self.tokenizer, **self.tokenizer_options())


@dataclass
class LSTMConfig:
    """The shape of an :class:`~scratchlstm.models.LSTMLanguageModel` (``--model lstm``)."""

    embed_dim: int = setting(200, "embedding size", range=AT_LEAST_1)
    hidden_dim: int = setting(200, "LSTM units per layer", range=AT_LEAST_1)
    num_layers: int = setting(2, "LSTM layers", range=AT_LEAST_1, aliases=("--layers",))
    dropout: float = setting(0.2, "dropout probability", range=PROBABILITY)
    tie_weights: bool = setting(False, "share the embedding and decoder matrix (needs embed-dim "
                                       "== hidden-dim)")
    locked_dropout: bool = setting(False, "one dropout mask per sequence, reused at every step")
    init: str = setting("default", "weight initialisation: default (PyTorch's) or uniform "
                                   "(every weight U(-init-range, init-range))",
                        choices=("default", "uniform"))
    init_range: float = setting(0.1, "bound for --init uniform", range=POSITIVE)
    forget_bias: float = setting(0.0, "initial forget-gate bias", range=ANY)
    cell: str = setting("lstm", "recurrent cell (gru and rnn: for comparisons)",
                        choices=("lstm", "gru", "rnn"))
    # AWD-LSTM's regularisers (Merity et al. 2017), all off by default
    input_dropout: float | None = setting(None, "AWD: dropout on the embeddings, when it should differ "
                                                "from --dropout", range=PROBABILITY, shown="--dropout")
    hidden_dropout: float | None = setting(None, "AWD: dropout between LSTM layers, when it should "
                                                 "differ from --dropout", range=PROBABILITY,
                                           shown="--dropout")
    embedding_dropout: float = setting(0.0, "AWD: drop whole words of the embedding matrix",
                                       range=PROBABILITY)
    weight_drop: float = setting(0.0, "AWD: DropConnect on the recurrent weights (LSTM cell only)",
                                 range=PROBABILITY)
    ar_alpha: float = setting(0.0, "AWD: activation regularisation of the last layer's output",
                              range=AT_LEAST_0)
    tar_beta: float = setting(0.0, "AWD: temporal activation regularisation (slowness)",
                              range=AT_LEAST_0)

    kind = "lstm"

    def __post_init__(self):
        check_fields(self)

    def build(self, vocab_size: int, seed: int = 0, device: str | None = None,
              functional=None) -> "LSTMLanguageModel":
        """The model these settings describe."""
        from .models import LSTMLanguageModel  # noqa: PLC0415

        return LSTMLanguageModel(vocab_size, seed=seed, device=device, functional=functional,
                                 **asdict(self))


@dataclass
class TransformerConfig:
    """The shape of a :class:`~scratchlstm.transformer.TransformerLanguageModel`
    (``--model transformer``)."""

    d_model: int = setting(128, "transformer: width of every position's vector", range=AT_LEAST_1)
    n_heads: int = setting(4, "transformer: attention heads (a divisor of d-model)", range=AT_LEAST_1)
    n_layers: int = setting(2, "transformer: blocks", range=AT_LEAST_1)
    block_size: int = setting(64, "transformer: longest context in tokens (--bptt must not "
                                  "exceed it)", range=AT_LEAST_1)
    dropout: float = setting(0.1, "dropout probability", range=PROBABILITY)
    tie_weights: bool = setting(True, "share the embedding and decoder matrix")
    mlp_ratio: int = setting(4, "transformer: MLP width as a multiple of d-model", range=AT_LEAST_1)

    kind = "transformer"

    def __post_init__(self):
        check_fields(self)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({flag_of('d_model')}) = {self.d_model} must be divisible by "
                             f"n_heads ({flag_of('n_heads')}) = {self.n_heads}")

    def build(self, vocab_size: int, seed: int = 0, device: str | None = None,
              functional=None) -> "TransformerLanguageModel":
        """The model these settings describe (``functional`` must be None: the transformer has
        one track)."""
        from .transformer import TransformerLanguageModel  # noqa: PLC0415

        if functional not in (None, "fast"):
            raise ValueError("--functional chooses the LSTM's forward/backward functions; the "
                             "transformer has none to choose: drop --functional or use --model lstm")
        return TransformerLanguageModel(vocab_size, seed=seed, device=device, **asdict(self))


#: ``--model KIND`` (a recipe's ``model = dict(kind=...)``) -> its config class
MODEL_CONFIGS = {"lstm": LSTMConfig, "transformer": TransformerConfig}
#: checkpoint ``model_class`` -> model kind
MODEL_KIND_OF_CLASS = {"LSTMLanguageModel": "lstm", "TransformerLanguageModel": "transformer"}

SCHEDULES = ("plateau", "epoch_decay", "cosine", "none")


@dataclass
class TrainConfig:
    """Everything about *how* to train (the model's shape lives in the model's config).

    Attributes
    ----------
    epochs : int, maximum number of passes over the training stream
    batch_size, eval_batch_size : int, parallel streams for training and for evaluation
    bptt : int, window length in time steps; ``variable_bptt`` jitters it (AWD-LSTM)
    optimizer : "adam", "adamw", "sgd" or "ntasgd"; lr, momentum, weight_decay, nonmono,
        average_after as in
        :mod:`scratchlstm.optim`
    clip : float or None, global gradient-norm limit
    schedule : "plateau" (lr *= plateau_factor when validation stalls for more than
        plateau_patience epochs), "epoch_decay" (lr *= decay_factor after every epoch from
        decay_start, Zaremba et al.), "cosine" (warm-up then cosine to min_lr) or "none"
    warmup_steps : int, cosine: linear warm-up steps (cut to the length of the run when the run
        is shorter, e.g. a smoke test on a slice of the corpus)
    patience : int or None, early stopping after this many epochs without validation improvement
    max_steps_per_epoch : int or None, cap on windows per epoch (smoke tests, quick demos)
    progress : bool or None, show a progress bar (None: only on a terminal)
    """

    epochs: int = setting(10, "maximum epochs", range=AT_LEAST_1)
    batch_size: int = setting(20, "parallel streams", range=AT_LEAST_1)
    eval_batch_size: int = setting(10, "streams for evaluation", range=AT_LEAST_1)
    bptt: int = setting(35, "truncated-BPTT window, in tokens", range=AT_LEAST_1)
    variable_bptt: bool = setting(False, "jitter the window length (AWD-LSTM)")
    optimizer: str = setting("adam", "optimiser (ntasgd: AWD-LSTM's averaged SGD)",
                             choices=("adam", "adamw", "sgd", "ntasgd"))
    lr: float = setting(2e-3, "learning rate", range=POSITIVE)
    momentum: float = setting(0.0, "SGD momentum", range=PROBABILITY)
    nonmono: int = setting(5, "ntasgd: average once validation fails to beat the best of more "
                              "than N epochs ago", range=AT_LEAST_1)
    average_after: int | None = setting(None, "ntasgd: average after epoch N at the latest "
                                              "(a fixed budget's backstop)", range=AT_LEAST_1,
                                        shown="none: the trigger alone")
    weight_decay: float = setting(0.0, "L2 (adam, sgd) or decoupled (adamw) weight decay", range=AT_LEAST_0)
    clip: float | None = setting(0.25, "global gradient-norm limit, or none", range=POSITIVE,
                                 none_words=("none", "off", "0"))
    schedule: str = setting("plateau", "learning-rate schedule", choices=SCHEDULES)
    plateau_factor: float = setting(0.25, "plateau: lr factor when validation stalls", range=OPEN_UNIT)
    plateau_patience: int = setting(0, "plateau: epochs without improvement before the lr drops",
                                    range=AT_LEAST_0)
    decay_start: int = setting(4, "epoch_decay: first epoch to decay after", range=AT_LEAST_0)
    decay_factor: float = setting(0.5, "epoch_decay: lr factor per epoch", range=FRACTION)
    warmup_steps: int = setting(0, "cosine: linear warm-up steps", range=AT_LEAST_0)
    min_lr: float = setting(0.0, "cosine and plateau: the lowest learning rate", range=AT_LEAST_0)
    patience: int | None = setting(None, "early stopping after N epochs without improvement",
                                   range=AT_LEAST_1, shown="off")
    seed: int = setting(0, "seed for weights, dropout and sampling", range=AT_LEAST_0)
    max_steps_per_epoch: int | None = setting(None, "cap on windows per epoch (quick runs)",
                                              range=AT_LEAST_1, shown="no cap")
    progress: bool | None = setting(None, "show a progress bar", shown="only on a terminal")

    def __post_init__(self):
        # Every float must be finite: NaN slips through "lr <= 0" (every comparison with NaN is
        # False) and one NaN update turns every weight into NaN.
        check_fields(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """``TrainConfig(**d)``; an unknown key is an error that suggests the closest field."""
        return from_dict(cls, d, "training options")


def model_config_from_dict(values: dict) -> "LSTMConfig | TransformerConfig":
    """An :class:`LSTMConfig` or :class:`TransformerConfig` from a dict whose optional ``kind``
    says which (default ``"lstm"``); unknown keys are refused with a suggestion."""
    values = dict(values)
    kind = values.pop("kind", "lstm")
    if kind not in MODEL_CONFIGS:
        raise ValueError(f"model kind {kind!r} (--model) must be one of {', '.join(MODEL_CONFIGS)}")
    cls = MODEL_CONFIGS[kind]
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        other = [n for n in unknown if any(n == f.name for c in MODEL_CONFIGS.values() for f in fields(c))]
        if other:
            raise ValueError(f"{', '.join(flag_of(n) for n in sorted(other))} is not an option of the "
                             f"{kind} model (--model {kind}); its options: "
                             f"{', '.join(flag_of(n) for n in sorted(known))}")
        raise unknown_names_error(f"{kind} model options", unknown, known | {"kind"})
    return cls(**values)


# ----------------------------------------------------------------------------------------------
# A whole run, and recipe files
# ----------------------------------------------------------------------------------------------
@dataclass
class RunConfig:
    """Every setting of one training run: data, model, training, output folder and device."""

    data: DataConfig = field(default_factory=DataConfig)
    model: LSTMConfig | TransformerConfig = field(default_factory=LSTMConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    out: str | None = None
    device: str | None = None

    def out_dir(self) -> Path:
        """``out``, or ``runs/<data>-<tokenizer>`` (``-transformer`` appended for one)."""
        if self.out is not None:
            return Path(self.out)
        name = Path(str(self.data.data)).name or "corpus"
        suffix = "" if self.model.kind == "lstm" else f"-{self.model.kind}"
        return Path("runs") / f"{name}-{self.data.tokenizer}{suffix}"


#: The names a recipe file may assign.
RECIPE_NAMES = ("data", "data_dir", "max_chars", "tokenizer", "tokenizer_options", "model", "train",
                "out", "device")


def _recipe_values(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"recipe file {path} does not exist (--config FILE.py)")
    try:
        values = runpy.run_path(str(path))
    except Exception as exc:          # a recipe is the user's Python: report, don't crash
        raise ValueError(f"recipe file {path} failed to run: {type(exc).__name__}: {exc}") from None
    # names that are not settings: modules it imported, functions, _private and __dunder__ names
    return {k: v for k, v in values.items()
            if not k.startswith("_") and not isinstance(v, (types.ModuleType, types.FunctionType, type))}


def load_recipe(path) -> dict:
    """Read a recipe file into ``{"data": {...}, "model": {...}, "train": {...}, "out", "device"}``
    (plain dicts of the names it sets, checked against the configs; nothing is built).

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file fails to run, assigns a name that is not a setting (the message suggests the
        closest one: ``modle`` -> ``model``), or a value is out of range.
    """
    values = _recipe_values(path)
    unknown = set(values) - set(RECIPE_NAMES)
    if unknown:
        raise ValueError(f"recipe file {path}: " + str(unknown_names_error("names", unknown, RECIPE_NAMES)))
    data = {k: values[k] for k in ("data", "data_dir", "max_chars", "tokenizer") if k in values}
    options = values.get("tokenizer_options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"recipe file {path}: tokenizer_options must be a dict, got {type(options).__name__}")
    bad = set(options) - set(TOKENIZER_OPTIONS)
    if bad:
        raise ValueError(f"recipe file {path}: " + str(unknown_names_error("tokenizer_options", bad,
                                                                          TOKENIZER_OPTIONS)))
    data.update(options)
    recipe = {"data": data, "model": dict(values.get("model") or {}),
              "train": dict(values.get("train") or {}), "out": values.get("out"),
              "device": values.get("device")}
    try:                              # check now, so that the file is named in the message
        build_run_config(recipe)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"recipe file {path}: {exc}") from None
    return recipe


def build_run_config(layers: dict) -> RunConfig:
    """A :class:`RunConfig` from a dict like :func:`load_recipe`'s (any part may be missing)."""
    data = from_dict(DataConfig, dict(layers.get("data") or {}), "data options")
    model = model_config_from_dict(layers.get("model") or {})
    train = TrainConfig.from_dict(dict(layers.get("train") or {}))
    out = layers.get("out")
    device = layers.get("device")
    for name, value in (("out", out), ("device", device)):
        if value is not None and not isinstance(value, (str, Path)):
            raise ValueError(f"{name} must be a string, got {value!r}")
    return RunConfig(data, model, train, str(out) if out is not None else None, device)


# ----------------------------------------------------------------------------------------------
# Command-line options generated from the fields
# ----------------------------------------------------------------------------------------------
def parse_value(info: FieldInfo, text: str) -> object:
    """Turn one command-line string into a value of the field, or raise ArgumentTypeError with
    the allowed values (argparse then names the flag)."""
    if info.none_words and text.strip().lower() in info.none_words:
        return None
    if info.optional and text.strip().lower() == "none":
        return None
    try:
        value = info.kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {info.wanted()}, got {text!r}") from None
    try:
        return info.check(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {info.wanted()}, got {text}") from None


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _help(info: FieldInfo, defaults: str | None = None) -> str:
    """The field's help, its range, and its default: ``learning rate, > 0 (default 0.002)``."""
    shown = defaults if defaults is not None else info.shown if info.shown is not None else _shown(info.default)
    allowed = info.range.describe() if info.range is not None and info.kind in (int, float) else ""
    return f"{info.help}{', ' + allowed if allowed else ''} (default {shown})".replace("%", "%%")


def add_options(group, cls, skip=(), defaults: dict | None = None) -> list[str]:
    """Add one option per field of ``cls`` to an argparse group, each defaulting to None (so that
    "not given" is visible); booleans get ``--x`` and ``--no-x``. Returns the field names added.

    ``defaults`` may replace the default shown in the help of some fields (shared fields).
    """
    added = []
    for info in describe_fields(cls):
        if not info.cli or info.name in skip:
            continue
        names = [info.flag, *info.aliases]
        help_text = _help(info, (defaults or {}).get(info.name))
        if info.kind is bool:               # --x and --no-x
            group.add_argument(*names, dest=info.name, action=argparse.BooleanOptionalAction,
                               default=None, help=help_text)
        else:
            kwargs = {"choices": info.choices} if info.choices else {}
            metavar = None if info.choices else {int: "N", float: "X"}.get(
                info.kind, "DIR" if info.name.endswith("_dir") else "NAME_OR_PATH" if info.name == "data" else "TEXT")
            group.add_argument(*names, dest=info.name, default=None, metavar=metavar,
                               type=(lambda text, info=info: parse_value(info, text)) if not info.choices else str,
                               help=help_text, **kwargs)
        added.append(info.name)
    return added


def given_options(args, cls) -> dict:
    """The fields of ``cls`` given on the command line (not None in ``args``)."""
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}


def data_config_from_legacy(settings: dict) -> DataConfig:
    """The DataConfig of a scratchlstm 0.1 checkpoint, whose command line kept its data settings
    in ``extra.cli_settings`` (``tokenizer_options`` with ``mode`` for the word mode)."""
    options = settings.get("tokenizer_options") if isinstance(settings.get("tokenizer_options"), dict) else {}
    values = {k: settings[k] for k in ("data", "data_dir", "max_chars", "tokenizer")
              if settings.get(k) is not None}
    for old, new in (("vocab_size", "vocab_size"), ("min_freq", "min_freq"), ("mode", "word_mode")):
        if options.get(old) is not None:
            values[new] = options[old]
    return from_dict(DataConfig, values, "data options")
