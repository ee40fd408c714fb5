r"""From one long stream of token ids to the (inputs, targets) windows a recurrent model trains on.

A language-model corpus is one sequence :math:`w_0, w_1, \dots, w_{N-1}`. Training with truncated
backpropagation through time (BPTT) needs it in two steps:

1. :func:`batchify` cuts the stream into ``B`` contiguous columns and stacks them side by side::

       stream  a b c d e f g h i j k l m n o p q r s t u v w x y z     (N = 26, B = 4)

       (T, B) = (6, 4), the last 2 tokens are dropped:
                 col 0  col 1  col 2  col 3
          t=0      a      g      m      s
          t=1      b      h      n      t
          ...
          t=5      f      l      r      x

   Each column is read top to bottom, so the hidden state carried from one window to the next in
   column ``b`` continues the *same* text: that is what lets truncated BPTT learn beyond one window.

2. :func:`bptt_windows` walks down the rows in windows of ``bptt`` steps. The targets are the
   inputs one step later: ``targets[t] = data[i + t + 1]`` where ``inputs[t] = data[i + t]``.
   Consecutive windows share one row (the last target row of a window is the first input row of
   the next), so every position except the very last is an input exactly once.

Everything here runs on the host (NumPy). Move the arrays to the model's device afterwards with
:func:`scratchlstm.backend.to_device`; check ids with :func:`validate_ids` *before* that, because an
out-of-range index on a GPU does not raise, it reads whatever memory is there.
"""
from __future__ import annotations

import math

from ..backend import np, to_host


def validate_ids(ids, vocab_size: int):
    """Check that ``ids`` are integers in ``0 .. vocab_size-1``; return them as a host array.

    Parameters
    ----------
    ids : array-like of int, any shape (NumPy, CuPy, list)
    vocab_size : int

    Returns
    -------
    ids : ndarray (host), same shape

    Raises
    ------
    TypeError
        If the ids are not integers (floats, bools, strings).
    ValueError
        If an id is negative or ``>= vocab_size``; the message names the first bad id and its
        position (an index tuple for arrays of more than one dimension).
    """
    if isinstance(vocab_size, bool) or int(vocab_size) != vocab_size or vocab_size < 1:
        raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
    arr = to_host(ids)
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"token ids must have an integer dtype, got {arr.dtype} "
                        f"(ids look like {arr.reshape(-1)[:5].tolist()})")
    bad = (arr < 0) | (arr >= vocab_size)
    if bad.any():
        flat = int(np.flatnonzero(bad.reshape(-1))[0])
        pos = flat if arr.ndim == 1 else tuple(int(i) for i in np.unravel_index(flat, arr.shape))
        value = int(arr.reshape(-1)[flat])
        raise ValueError(f"token id {value} at position {pos} is out of range for vocab_size "
                         f"{vocab_size} (valid ids are 0..{vocab_size - 1})")
    return arr


def batchify(ids, batch_size: int) -> "np.ndarray":
    """Arrange a 1-D stream of ids as ``(T, B)`` time-major columns (PyTorch's word_language_model).

    Column ``b`` is the contiguous stretch ``ids[b*T : (b+1)*T]``; the last ``N mod B`` tokens,
    which do not fill a row, are dropped. Equivalent to ``ids[:T*B].reshape(B, T).T``, but returned
    C-contiguous so that each time step ``data[t]`` is one contiguous row.

    Parameters
    ----------
    ids : (N,) integer array-like
    batch_size : int
        ``B``, the number of parallel streams.

    Returns
    -------
    data : (T, B) int64 ndarray, ``T = N // B``

    Raises
    ------
    ValueError
        If ``batch_size < 1`` or the stream is too short to give every column at least one
        (input, target) pair, i.e. ``N < 2 * B``.
    TypeError
        If the ids are not integers.
    """
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    arr = to_host(ids)
    if arr.ndim != 1:
        raise ValueError(f"ids must be a 1-D stream, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"token ids must have an integer dtype, got {arr.dtype}")
    n_steps = arr.size // batch_size
    if n_steps < 2:
        raise ValueError(f"a stream of {arr.size} tokens is too short for batch_size={batch_size}: "
                         f"need at least 2 * batch_size = {2 * batch_size} tokens so that every "
                         "column has an input and a target")
    data = arr[: n_steps * batch_size].astype(np.int64, copy=False).reshape(batch_size, n_steps).T
    return np.ascontiguousarray(data)


def num_windows(data, bptt: int) -> int:
    """How many windows :func:`bptt_windows` yields with a fixed ``bptt``.

    Parameters
    ----------
    data : (T, B) array, or the int ``T``
    bptt : int

    Returns
    -------
    int
        ``ceil((T - 1) / bptt)``: ``T - 1`` input positions (the last row is only a target) cut
        into windows of ``bptt``, the last one shorter.
    """
    n_steps = data if isinstance(data, (int, np.integer)) else data.shape[0]
    _check_bptt(bptt)
    return max(0, math.ceil((int(n_steps) - 1) / bptt))


def _check_bptt(bptt) -> None:
    if isinstance(bptt, bool) or int(bptt) != bptt or bptt < 1:
        raise ValueError(f"bptt must be a positive integer, got {bptt!r}")


class BPTTWindows:
    """Iterable of ``(inputs, targets)`` windows over ``data``; see :func:`bptt_windows`.

    Iterating twice gives the same windows for fixed ``bptt``; with ``variable=True`` each pass
    draws new lengths from the generator (pass the same generator every epoch for fresh lengths,
    or re-seed it to repeat an epoch exactly).
    """

    def __init__(self, data, bptt: int, variable: bool = False, rng=None, min_len: int = 5):
        _check_bptt(bptt)
        if data.ndim < 1 or data.shape[0] < 2:
            raise ValueError(f"data needs at least 2 time steps (rows), got shape {data.shape}")
        if int(min_len) != min_len or min_len < 1:
            raise ValueError(f"min_len must be a positive integer, got {min_len!r}")
        self.data = data
        self.bptt = int(bptt)
        self.variable = bool(variable)
        self.min_len = int(min_len)
        if rng is None or isinstance(rng, (int, np.integer)):
            # Seeded by default: a lesson that runs twice must print the same numbers.
            rng = np.random.default_rng(0 if rng is None else int(rng))
        self.rng = rng

    def __len__(self) -> int:
        if self.variable:
            # tqdm and friends catch TypeError from len() and show no total.
            raise TypeError("the number of windows is random when variable=True; "
                            "use num_windows(data, bptt) for an estimate")
        return num_windows(self.data, self.bptt)

    def _next_length(self) -> int:
        """AWD-LSTM's length draw: bptt (p=0.95) or bptt/2, then N(that, 5), at least min_len."""
        base = self.bptt if self.rng.random() < 0.95 else self.bptt / 2
        return max(self.min_len, int(self.rng.normal(base, 5)))

    def __iter__(self):
        data, last = self.data, self.data.shape[0] - 1
        i = 0
        while i < last:
            seq_len = self._next_length() if self.variable else self.bptt
            seq_len = min(seq_len, last - i)           # the final window may be shorter
            # Views, not copies: windows cost nothing to make, on NumPy and CuPy alike.
            yield data[i:i + seq_len], data[i + 1:i + 1 + seq_len]
            i += seq_len


def bptt_windows(data, bptt: int, variable: bool = False, rng=None,
                 min_len: int = 5) -> BPTTWindows:
    """Windows of ``data`` for truncated BPTT: ``(inputs, targets)`` with targets one step ahead.

    Parameters
    ----------
    data : (T, B) array
        Usually the output of :func:`batchify` (any array with time on axis 0 works, including a
        CuPy array: the windows are views of it).
    bptt : int
        Window length in time steps.
    variable : bool, default False
        AWD-LSTM's variable-length BPTT (Merity et al. 2017): for each window, with probability
        0.95 take ``bptt``, else ``bptt / 2``; then draw the length from a normal distribution with
        that mean and standard deviation 5, rounded down and clipped to ``>= min_len``. Because
        windows do not always start at the same offsets, every token gets trained with different
        amounts of context from one epoch to the next. (AWD-LSTM also scales the learning rate by
        ``seq_len / bptt`` for each window; that is the trainer's business, read ``len(inputs)``.)
    rng : numpy.random.Generator or int or None
        Source of the lengths when ``variable``. An int is a seed; ``None`` means seed 0.
    min_len : int, default 5

    Yields
    ------
    inputs : (t, B) array, a view of ``data[i : i + t]``
    targets : (t, B) array, a view of ``data[i + 1 : i + 1 + t]``
        ``t <= bptt`` for fixed windows (only the last one is shorter). Together the windows cover
        rows ``0 .. T-2`` as inputs exactly once, in order.

    Notes
    -----
    ``len(bptt_windows(data, bptt))`` is the number of windows for fixed ``bptt`` (for progress
    bars); with ``variable=True`` it raises ``TypeError`` because the count is random.
    """
    return BPTTWindows(data, bptt, variable=variable, rng=rng, min_len=min_len)
