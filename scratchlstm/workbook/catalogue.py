"""What the workbook asks a student to write: topics, functions, and the text of each stub.

Every workbook function is a function of the library's reading track, with the library's name and
signature. :data:`TOPICS` lists them by file; :data:`GUIDES` holds, for each, what to compute and
a hint or two. The stub files are generated from these and from the library's own docstrings
(:mod:`scratchlstm.workbook.stubs`), so a stub can never drift from the function it mirrors.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import generation, optim, training
from ..nn import functional
from ..text import bpe


@dataclass(frozen=True)
class Topic:
    """One workbook file."""

    file: str                       # e.g. "lstm.py"
    title: str                      # first line of the file's docstring
    lessons: str                    # where the lessons derive it
    functions: tuple[str, ...]      # in the order a student writes them
    imports: str                    # the import lines of the stub file
    reference_module: object = field(repr=False, default=None)


TOPICS: dict[str, Topic] = {
    "layers": Topic(
        "layers.py", "The building blocks: affine, embedding, dropout, softmax cross-entropy",
        "lesson 4 (dropout: lesson 12)",
        ("affine_forward", "affine_backward", "embedding_forward", "embedding_backward",
         "dropout_forward", "dropout_backward", "softmax_cross_entropy"),
        "import numpy as np\n\nfrom scratchlstm.nn.functional import AffineCache, EmbeddingCache\n",
        functional),
    "rnn": Topic(
        "rnn.py", "A vanilla RNN, one step and through time", "lesson 5",
        ("rnn_step_forward", "rnn_step_backward", "rnn_forward", "rnn_backward"),
        "import numpy as np\n\nfrom scratchlstm.nn.functional import RNNStepCache, ScanCache\n",
        functional),
    "lstm": Topic(
        "lstm.py", "The LSTM, one step and through time", "lessons 6 and 7",
        ("lstm_step_forward", "lstm_step_backward", "lstm_forward", "lstm_backward"),
        "import numpy as np\n\n"
        "# sigmoid(x) = 1 / (1 + exp(-x)), computed without overflow; use it or write your own.\n"
        "from scratchlstm.nn.functional import LSTMCache, LSTMStepCache, sigmoid\n",
        functional),
    "optim": Topic(
        "optim.py", "Optimisation: global-norm clipping, SGD with momentum, Adam", "lesson 8",
        ("clip_grad_norm", "sgd_step", "adam_step"),
        "import math\n\nimport numpy as np\n",
        optim),
    "sampling": Topic(
        "sampling.py", "Sampling the next token: temperature, top-k, top-p", "lesson 10",
        ("temperature_softmax", "top_k_filter", "top_p_filter", "sample_from"),
        "import numpy as np\n",
        generation),
    "bpe": Topic(
        "bpe.py", "Byte-pair encoding: learning merges, encoding", "lesson 2",
        ("count_pairs", "merge_pair", "learn_merges", "encode_chunk"),
        "from collections import Counter\n",
        bpe),
    "train": Topic(
        "train.py", "One step of truncated backpropagation through time", "lesson 9",
        ("train_step",),
        "# Use the library's clipping here, or paste your own from optim.py.\n"
        "from scratchlstm.optim import clip_grad_norm\n",
        training),
}

#: function name -> topic name
TOPIC_OF: dict[str, str] = {name: topic for topic, t in TOPICS.items() for name in t.functions}

#: every workbook function, in workbook order
FUNCTIONS: tuple[str, ...] = tuple(TOPIC_OF)


def reference(name: str):
    """The library's reading-track function that the workbook function ``name`` mirrors."""
    return getattr(TOPICS[TOPIC_OF[name]].reference_module, name)


@dataclass(frozen=True)
class Guide:
    """The part of a stub that is not the library's docstring."""

    compute: str                    # the equations / the algorithm, in a few lines
    hints: tuple[str, ...] = ()


GUIDES: dict[str, Guide] = {
    # -- layers ---------------------------------------------------------------------------------
    "affine_forward": Guide(
        "y = x W + b over the last axis. Flatten the leading axes to one, (N, D) with N = "
        "x.size // D, multiply, add b, and restore the leading shape. Return "
        "AffineCache(x, W).",
        ("x.reshape(-1, D) turns (T, B, D) into (T*B, D); y.reshape(*x.shape[:-1], M) turns it "
         "back.",)),
    "affine_backward": Guide(
        "With x2 = x flattened to (N, D) and dy2 = dy flattened to (N, M): dx = dy2 W^T "
        "(reshaped like x), dW = x2^T dy2, db = the sum of dy2 over its N rows.",
        ("The bias is added to every row, so its gradient is a sum over every row: over time "
         "steps and over the batch, axis 0 of dy2.",
         "Each gradient has the shape of what it is the gradient of: dW like W, db like b.")),
    "embedding_forward": Guide(
        "out[..., :] = W[ids[...]]: one row of W per id. Return EmbeddingCache(ids, V).",
        ("NumPy fancy indexing does it in one line.",)),
    "embedding_backward": Guide(
        "dW[v] = the sum of dout over every position whose id is v; rows of ids that do not occur "
        "stay zero.",
        ("An id that occurs twice must receive both contributions. `dW[ids] += dout` does not: "
         "with repeated indices NumPy keeps only one write. np.add.at(dW, ids, dout) adds every "
         "one (flatten ids to (N,) and dout to (N, D) first).",)),
    "dropout_forward": Guide(
        "keep = rng.random(mask_shape) >= p, where mask_shape is x.shape, or (1, B, D) when "
        "locked; mask = keep / (1 - p); out = x * mask. With p == 0 return (x, None).",
        ("Draw the mask exactly as above (one rng.random call with dtype=x.dtype): then the "
         "grader can compare your masks with the library's.",
         "Dividing by (1 - p) now is what lets evaluation skip dropout without rescaling.",
         "A locked mask of shape (1, B, D) broadcasts over the T time steps: the same units are "
         "dropped at every step.")),
    "dropout_backward": Guide(
        "dx = dout * mask (the forward pass multiplied by the mask, so does the backward pass); "
        "with mask None, dx = dout.",
        ()),
    "softmax_cross_entropy": Guide(
        "Flatten to z (N, V) and y (N,). loss = mean over n of -log softmax(z_n)[y_n]; "
        "dlogits = (softmax(z) - onehot(y)) / N, reshaped like logits.",
        ("Subtract each row's maximum before exp: softmax is unchanged and exp cannot overflow "
         "(logits of 1000 are the grader's test).",
         "log softmax(z) = z - max - log(sum(exp(z - max))) stays finite where log(softmax(z)) "
         "would take the log of 0.",
         "The loss is a mean over N positions, so the gradient carries the 1/N too.")),
    # -- rnn -------------------------------------------------------------------------------------
    "rnn_step_forward": Guide(
        "h = tanh(x Wx + h_prev Wh + b). Return h and RNNStepCache(x, h_prev, Wx, Wh, h).",
        ()),
    "rnn_step_backward": Guide(
        "da = dh * (1 - h^2) (tanh' written with the output h); then dx = da Wx^T, "
        "dh_prev = da Wh^T, dWx = x^T da, dWh = h_prev^T da, db = sum of da over the batch.",
        ("Wh multiplies h_prev, the state *before* this step, so dWh = h_prev^T da, not h^T da.",)),
    "rnn_forward": Guide(
        "h = h0; for t = 0..T-1: h, step = rnn_step_forward(x[t], h, Wx, Wh, b); keep h in "
        "hs[t] and step in a list. Return hs, the last h, and ScanCache(steps).",
        ("Carry h from one step to the next: each step starts from the previous step's output.",)),
    "rnn_backward": Guide(
        "Walk t = T-1 .. 0: dh = dhs[t] + dh_next (from above and from the future); "
        "dx[t], dh_next, dWx_t, dWh_t, db_t = rnn_step_backward(dh, cache.steps[t]); add the "
        "weight gradients up. dh_next starts as dh_T (zeros when None); after the loop it is dh0. "
        "dhs may be None: no gradient from above.",
        ("Forgetting `+ dh_next` cuts every path back through time: only the last step would learn.",
         "The weights are used at every step: their gradient is the sum over t (+=, not =).")),
    # -- lstm ------------------------------------------------------------------------------------
    "lstm_step_forward": Guide(
        "a = x Wx + h_prev Wh + b, shape (B, 4H), cut into four blocks of H columns in the order "
        "i, f, g, o; i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o); "
        "c = f * c_prev + i * g; h = o * tanh(c). Return h, c and "
        "LSTMStepCache(x, h_prev, c_prev, Wx, Wh, i, f, g, o, tanh(c)).",
        ("The order of the blocks is i, f, g, o (PyTorch's); some courses use i, f, o, g. "
         "Columns 2H:3H are the candidate g, with tanh.",
         "Keep the fields of LSTMStepCache as named: the grader passes your cache to the "
         "library's backward pass, and the library's cache to yours.")),
    "lstm_step_backward": Guide(
        "Backwards through h = o * tanh(c): do = dh * tanh_c, and c receives "
        "dc_total = dc + dh * o * (1 - tanh_c^2). Through c = f * c_prev + i * g: "
        "df = dc_total * c_prev, di = dc_total * g, dg = dc_total * i, dc_prev = dc_total * f. "
        "Through the nonlinearities: da = [di i(1-i), df f(1-f), dg (1-g^2), do o(1-o)] "
        "(blocks i, f, g, o, concatenated to (B, 4H)). Then, as in the affine layer: "
        "dx = da Wx^T, dh_prev = da Wh^T, dWx = x^T da, dWh = h_prev^T da, db = sum of da "
        "over the batch.",
        ("c reaches the loss two ways: through c_next (the dc you are given) and through h of "
         "this very step. Forget the second and the gates i, f and g get no gradient from this "
         "step's own output.",
         "Concatenate the four gate gradients in the order of the forward pass, i, f, g, o.")),
    "lstm_forward": Guide(
        "h, c = h0, c0; for t = 0..T-1: h, c, step = lstm_step_forward(x[t], h, c, Wx, Wh, b); "
        "keep h in hs[t] and the step cache in a list. Return hs, (h, c) and LSTMCache(steps).",
        ("Both h and c carry over from one step to the next.",)),
    "lstm_backward": Guide(
        "dh_next, dc_next start as dh_T, dc_T (zeros when None). Walk t = T-1 .. 0: "
        "dh = dhs[t] + dh_next; dx[t], dh_next, dc_next, dWx_t, dWh_t, db_t = "
        "lstm_step_backward(dh, dc_next, cache.steps[t]); add the weight gradients up. After the "
        "loop dh_next, dc_next are dh0, dc0. dhs may be None: no gradient from above.",
        ("h_t feeds the layer above *and* step t+1: add the gradient from the future to dhs[t].",
         "The cell state has no output of its own: its gradient comes only from the future, "
         "dc_next.",
         "Sum the weight gradients over all steps (+=).")),
    # -- optim -----------------------------------------------------------------------------------
    "clip_grad_norm": Guide(
        "norm = sqrt(sum over all parameters p of sum(p.grad^2)): one norm for the whole model. "
        "If norm > max_norm, multiply every p.grad by max_norm / (norm + 1e-6), in place. "
        "Return the norm from before the clipping, as a Python float.",
        ("Clip by the *global* norm: clipping each gradient on its own changes the direction of "
         "the step.",
         "params is a list of objects with a .grad array (the library's Parameter).")),
    "sgd_step": Guide(
        "velocity = momentum * velocity + grad; param = param - lr * velocity, both in place.",
        ("In place means `param -= ...` (or param[...] = ...): `param = param - ...` makes a new "
         "array and leaves the caller's untouched.",)),
    "adam_step": Guide(
        "m = beta1 m + (1 - beta1) grad; v = beta2 v + (1 - beta2) grad^2 (both in place); "
        "m_hat = m / (1 - beta1^t); v_hat = v / (1 - beta2^t); "
        "param -= lr * m_hat / (sqrt(v_hat) + eps).",
        ("Without the two bias corrections the first steps are several times too large "
         "(m/sqrt(v) is (1-beta1^t)/sqrt(1-beta2^t) times the corrected step: 3.2x at t = 1).",
         "Update param, m and v in place.")),
    # -- sampling --------------------------------------------------------------------------------
    "temperature_softmax": Guide(
        "probs = softmax(logits / temperature) in float64; temperature 0 means greedy: a one-hot "
        "on the first arg-max.",
        ("Divide by the temperature before the softmax, and shift by the maximum.",)),
    "top_k_filter": Guide(
        "Keep the k largest probabilities (ties: in order of appearance; np.argsort(-probs, "
        "kind='stable')[:k]), set the others to 0, divide by the kept sum.",
        ("Renormalise: the kept probabilities must sum to 1.",)),
    "top_p_filter": Guide(
        "Sort descending (stable), take the running sum, keep tokens up to *and including* the "
        "first one where the running sum reaches p (np.searchsorted(cumulative, p - 1e-12) + 1 "
        "of them), zero the rest, renormalise.",
        ("The token that crosses p belongs to the nucleus: without it the kept mass is below p, "
         "and with p smaller than the top probability nothing would be left.",)),
    "sample_from": Guide(
        "cdf = cumsum(probs); u = rng.random() * cdf[-1]; return the first index i with "
        "cdf[i] > u (np.searchsorted(cdf, u, side='right')), as an int, at most V - 1.",
        ("Draw exactly one rng.random(): then a seed gives the library's samples.",)),
    # -- bpe -------------------------------------------------------------------------------------
    "count_pairs": Guide(
        "For each word (a list of ids) and its frequency, add the frequency to the count of every "
        "adjacent pair (word[k], word[k+1]).",
        ("A word that occurs 5 times contributes 5 to each of its pairs.",)),
    "merge_pair": Guide(
        "Walk left to right; where ids[i], ids[i+1] == pair, emit new_id and jump two places; "
        "else emit ids[i] and move one.",
        ("Occurrences do not overlap: merge_pair([1, 1, 1], (1, 1), 9) is [9, 1].",)),
    "learn_merges": Guide(
        "words = the chunks as lists of bytes, freqs = their counts; token_bytes maps each id to "
        "the bytes it spells (0..255 to themselves). Repeat num_merges times: count the pairs; "
        "stop if none; pick the pair with the highest count, ties to the smallest "
        "(token_bytes[left], token_bytes[right]), then the smallest ids; record it, give it id "
        "first_id + k (spelling the two joined), merge it in every word.",
        ("min(counts, key=lambda p: (-counts[p], token_bytes[p[0]], token_bytes[p[1]], p)) "
         "applies the whole tie rule.",)),
    "encode_chunk": Guide(
        "While there are two or more ids: among the adjacent pairs present, pick the one with the "
        "smallest rank (ranks[pair]; pairs not in ranks never merge); if none is in ranks, stop; "
        "else merge it everywhere with merge_pair, its new id being ranks[pair].",
        ("Merge by rank, not from left to right: training applied the merges in the order it "
         "learned them.",)),
    # -- train -----------------------------------------------------------------------------------
    "train_step": Guide(
        "logits, state = model(inputs, state); loss, dlogits = model.loss(logits, targets); "
        "model.zero_grad(); model.backward(dlogits); clip (if clip) with clip_grad_norm("
        "model.parameters(), clip); optimizer.step(); return loss, state.",
        ("Pass the state in and return the new one: that is what carries memory across windows.",
         "zero_grad before backward: the layers *add* their gradients to .grad.")),
}

assert set(GUIDES) == set(FUNCTIONS), set(GUIDES) ^ set(FUNCTIONS)
