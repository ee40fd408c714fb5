r"""Text generation: feed the prompt, then sample one token at a time.

At every step the model gives logits :math:`z` for the next token. Sampling rules, applied in
this order:

* ``temperature`` :math:`\tau`: :math:`p = \mathrm{softmax}(z / \tau)`. :math:`\tau < 1` sharpens,
  :math:`\tau > 1` flattens; :math:`\tau = 0` means *greedy*: always the most likely token.
* ``top_k``: keep only the k most likely tokens (``top_k=1`` is greedy).
* ``top_p`` (nucleus sampling, Holtzman et al. 2020): keep the smallest set of most likely tokens
  whose probabilities add up to at least p.

The next token is drawn from the renormalised probabilities by inverse CDF with a *host* NumPy
generator, so a fixed ``seed`` gives the same text on CPU and GPU alike (up to float round-off in
the logits).
"""
from __future__ import annotations

import codecs
import contextlib
import math
import numbers
from dataclasses import dataclass, field
from typing import Iterator

from .backend import Array, to_host, np
from .nn.functional import softmax


@dataclass
class GeneratedToken:
    """One generated token: its id, the text it added, its probability, the top candidates and,
    when asked for, what the LSTM's units computed when the token was fed back in."""

    id: int
    text: str
    prob: float
    candidates: list = field(default_factory=list)   # [(token_text, probability), ...]
    activations: dict | None = None                  # see LSTMLanguageModel.activation_snapshot


def temperature_softmax(logits: Array, temperature: float = 1.0) -> "np.ndarray":
    r"""Probabilities of the next token at a temperature: :math:`p = \mathrm{softmax}(z / \tau)`.

    Parameters
    ----------
    logits : (V,) float array, on the host or the device (device logits are copied to the host
        explicitly: sampling happens there)
    temperature : float >= 0. Below 1 the distribution sharpens, above 1 it flattens; 0 means
        greedy: all the mass on the arg-max (the first one, if several tie)

    Returns
    -------
    probs : (V,) float64 host array, sums to 1
    """
    z = to_host(logits).astype(np.float64, copy=False)
    if temperature == 0.0:
        probs = np.zeros_like(z)
        probs[int(np.argmax(z))] = 1.0
        return probs
    return softmax(z / temperature)


def top_k_filter(probs: "np.ndarray", k: int) -> "np.ndarray":
    """Keep the ``k`` most likely tokens, set the rest to zero, renormalise.

    Tokens tied with the k-th are kept in their order of appearance until k are kept, so exactly
    ``min(k, V)`` entries stay non-zero.

    Parameters
    ----------
    probs : (V,) float, sums to 1
    k : int >= 1

    Returns
    -------
    probs : (V,) float64, sums to 1
    """
    order = np.argsort(-probs, kind="stable")         # most likely first, ties in index order
    keep = np.zeros(probs.shape, dtype=bool)
    keep[order[:k]] = True
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum()


def top_p_filter(probs: "np.ndarray", p: float) -> "np.ndarray":
    """Nucleus filtering: keep the smallest set of most likely tokens whose mass is at least ``p``.

    Sorted by probability, tokens are kept up to *and including* the one that brings the running
    sum to ``p`` or more; the rest are set to zero and the kept ones renormalised.

    Parameters
    ----------
    probs : (V,) float, sums to 1
    p : float in (0, 1]

    Returns
    -------
    probs : (V,) float64, sums to 1
    """
    order = np.argsort(-probs, kind="stable")
    cumulative = np.cumsum(probs[order])
    # the first position where the running sum reaches p (the 1e-12 forgives round-off in the sum)
    n_keep = int(np.searchsorted(cumulative, p - 1e-12)) + 1
    keep = np.zeros(probs.shape, dtype=bool)
    keep[order[:n_keep]] = True
    kept = np.where(keep, probs, 0.0)
    return kept / kept.sum()


def next_token_distribution(logits: Array, temperature: float = 1.0, top_k: int | None = None,
                            top_p: float | None = None) -> "np.ndarray":
    """Turn one row of logits into the probabilities that sampling uses: temperature, then
    top-k, then top-p (see :func:`temperature_softmax`, :func:`top_k_filter`, :func:`top_p_filter`).

    Parameters
    ----------
    logits : (V,) float array (host)
    temperature : float >= 0; 0 puts all mass on the arg-max
    top_k : int >= 1 or None
    top_p : float in (0, 1] or None

    Returns
    -------
    probs : (V,) float64, sums to 1, zero outside the kept set
    """
    validate_sampling(temperature, top_k, top_p)
    probs = temperature_softmax(logits, temperature)
    if top_k is not None and top_k < probs.size:
        probs = top_k_filter(probs, top_k)
    if top_p is not None and top_p < 1.0:
        probs = top_p_filter(probs, top_p)
    return probs


def validate_sampling(temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None) -> None:
    """Raise a ValueError naming the sampling option that is out of range (NaN included)."""
    if not (isinstance(temperature, numbers.Real) and math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or int(top_k) != top_k or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, numbers.Real) and 0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")


def validate_prompt(prompt: str) -> None:
    """Raise a ValueError for a prompt that is not text: not a str, or holding a lone surrogate
    (what Python makes of bytes that were not UTF-8, e.g. in a command-line argument), which
    no tokenizer can encode and no terminal can print."""
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"prompt holds a lone surrogate {prompt[exc.start]!r} at position {exc.start}, "
                         "which is not a character (was the input valid UTF-8?)") from None


def sample_from(probs: Array, rng: "np.random.Generator") -> int:
    """Draw an index with probability ``probs[i]`` by inverse CDF: the first i with cdf[i] > u.

    Parameters
    ----------
    probs : (V,) float, sums to 1 (host; device arrays are copied to the host)
    rng : a NumPy Generator; exactly one ``rng.random()`` is drawn, u = that number times cdf[-1]

    Returns
    -------
    int, the sampled token id
    """
    probs = to_host(probs)
    cdf = np.cumsum(probs)
    u = rng.random() * cdf[-1]
    return int(min(np.searchsorted(cdf, u, side="right"), probs.size - 1))


def _token_text(tokenizer, token_id: int) -> str:
    return tokenizer.decode([token_id])


def _start_ids(tokenizer, prompt: str) -> tuple[list[int], int]:
    """Ids to feed before sampling, and how many of them belong to the visible prompt."""
    ids = list(tokenizer.encode(prompt)) if prompt else []
    if ids:
        return ids, len(ids)
    # An empty prompt still needs one input token: whatever the tokenizer makes of a line end,
    # which the model saw at the start of every line (the word tokenizer's <eos>; a newline
    # character or byte piece otherwise). Not <eos> itself: a BPE or unigram tokenizer without
    # add_eos never puts it in the training stream, and an untrained token sends the state
    # somewhere no training text went.
    newline = list(tokenizer.encode("\n"))
    if newline and newline[-1] != getattr(tokenizer, "unk_id", None):
        return newline[-1:], 0
    eos = getattr(tokenizer, "eos_id", None)
    return ([eos] if eos is not None else newline[-1:] or [0]), 0


def _inference(model):
    """``model.inference()`` (no history kept: nothing reads it) where the model has it."""
    inference = getattr(model, "inference", None)
    return inference() if inference is not None else contextlib.nullcontext()


def feed(model, ids: list[int], state=None) -> tuple[Array, tuple]:
    """Run ``ids`` (a list of token ids, one stream) through ``model``: ``(logits (T, 1, V), state)``.

    A model with a ``block_size`` (the transformer) takes at most that many tokens per call, so a
    longer prompt goes in consecutive chunks, the state (its context of recent tokens) carried
    from one to the next: the last logits are those of one long pass with a sliding context.
    """
    block = getattr(model, "block_size", None) or len(ids)
    logits = None
    with _inference(model):
        for start in range(0, len(ids), block):
            logits, state = model(np.asarray(ids[start:start + block], dtype=np.int64)[:, None], state)
    return logits, state


def _step(model, token: int, state, record: bool):
    """Feed one token: ``(logits, state, activations or None)``."""
    ids = np.array([[token]], dtype=np.int64)
    if record:
        return model.forward_and_snapshot(ids, state)     # keeps the history it reads
    with _inference(model):
        logits, state = model(ids, state)
    return logits, state, None


def stream(model, tokenizer, prompt: str = "", max_new_tokens: int = 100, temperature: float = 1.0,
           top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
           stop_at_eos: bool = False, num_candidates: int = 0,
           activations: bool = False) -> Iterator[GeneratedToken]:
    """Yield generated tokens one at a time (for printing as they come, or a web page).

    Parameters
    ----------
    model : LSTMLanguageModel (put into eval mode here)
    tokenizer : the tokenizer the model was trained with
    prompt : str, text to continue; unknown words become ``<unk>`` for a word tokenizer, while a
        byte-level BPE tokenizer encodes any text losslessly
    max_new_tokens : int >= 0
    temperature, top_k, top_p : see :func:`next_token_distribution`
    seed : int or None, seeds the host sampling generator
    stop_at_eos : bool, stop after generating the tokenizer's ``<eos>``
    num_candidates : int, how many of the most likely next tokens to report with each token
    activations : bool, report with each token what the LSTM's units computed when it was fed
        back in (``GeneratedToken.activations``); needs a model whose ``has_units`` is True

    Yields
    ------
    GeneratedToken, whose ``text`` fields concatenate to the decoded continuation
    """
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, numbers.Integral) \
            or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    validate_sampling(temperature, top_k, top_p)                        # fail before any work
    validate_prompt(prompt)
    if activations and not getattr(model, "has_units", False):
        raise ValueError(f"activations=True needs an LSTM (a model with units to show); "
                         f"{type(model).__name__} has none")
    rng = np.random.default_rng(seed)
    model.eval()
    ids, n_prompt = _start_ids(tokenizer, prompt)
    logits, state = feed(model, ids)
    last = to_host(logits[-1, 0])
    eos = getattr(tokenizer, "eos_id", None)
    generated: list[int] = []
    shown = ""
    prefix_ids = ids[:n_prompt]
    prefix_text = tokenizer.decode(prefix_ids) if prefix_ids else ""
    # A byte-level tokenizer (BPE) can end a token in the middle of a UTF-8 character: an
    # incremental decoder keeps those bytes back until the character is complete, and only
    # those, so a genuine U+FFFD (a char tokenizer's <unk>) is text like any other.
    utf8 = (codecs.getincrementaldecoder("utf-8")(errors="replace")
            if callable(getattr(tokenizer, "token_bytes", None)) else None)
    # Without activations to report, each token goes through the batch-1 fast path where the
    # model has one (the same numbers as forward, a fraction of the per-token cost)
    stepper = None if activations else getattr(model, "batch_one_stepper", lambda state: None)(state)
    for _ in range(max_new_tokens):
        probs = next_token_distribution(last, temperature, top_k, top_p)
        token = sample_from(probs, rng)
        candidates = []
        if num_candidates:
            full = next_token_distribution(last, temperature if temperature > 0 else 1.0)
            top = np.argsort(-full, kind="stable")[:num_candidates]
            candidates = [(_token_text(tokenizer, int(k)), float(full[k])) for k in top]
        generated.append(token)
        stopping = stop_at_eos and eos is not None and token == eos
        if utf8 is not None:
            final = stopping or len(generated) == max_new_tokens     # flush what is held back
            piece = utf8.decode(tokenizer.token_bytes(token), final=final)
        else:
            # Decode the whole continuation and emit what is new: word-level decoding decides
            # spacing from the neighbours.
            text = tokenizer.decode(prefix_ids + generated)[len(prefix_text):]
            piece = text[len(shown):] if text.startswith(shown) else text
            shown += piece
        units = None
        if activations:             # the units' values as they read this token: feed it first
            logits, state, units = _step(model, token, state, record=True)
        yield GeneratedToken(token, piece, float(probs[token]), candidates, units)
        if stopping:
            return
        if stepper is not None:
            last = to_host(stepper.step(token))
            continue
        if not activations:
            logits, state, _ = _step(model, token, state, record=False)
        last = to_host(logits[-1, 0])


def generate(model, tokenizer, prompt: str = "", max_new_tokens: int = 100, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
             stop_at_eos: bool = False) -> str:
    """The continuation of ``prompt`` as one string (see :func:`stream` for the parameters)."""
    return "".join(t.text for t in stream(model, tokenizer, prompt, max_new_tokens, temperature,
                                          top_k, top_p, seed, stop_at_eos))
