"""Pre-tokenization: cutting text into the chunks that subword tokens never cross."""
from __future__ import annotations

import regex

#: GPT-2's pre-tokenization pattern: contractions, optional space + letters, optional space +
#: digits, optional space + other symbols, whitespace not followed by a non-space (so a run of
#: spaces leaves its last one to the next word), any other whitespace. The alternatives together
#: match every character, so chunks always concatenate back to the text.
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PRETOKENIZE = regex.compile(GPT2_PATTERN)


def pretokenize(text: str) -> list[str]:
    """Cut ``text`` into GPT-2 chunks; ``"".join(pretokenize(t)) == t`` for every string."""
    return PRETOKENIZE.findall(text)
