"""The user's paths on device 'cuda': training, resuming, evaluation, generation, checkpoints,
the server, interop. Marked ``gpu``: they run on a machine with a GPU and, in CI, through the
strict CuPy stand-in (see tests/test_16_strict_cupy.py), which raises wherever CuPy would."""
import json
import math
import threading
import urllib.request

import numpy
import pytest

from scratchlstm import LSTMLanguageModel, relative_error
from scratchlstm.backend import to_device, to_host
from scratchlstm.checkpoint import load_model, save_checkpoint
from scratchlstm.generation import generate, next_token_distribution
from scratchlstm.interop import from_torch_state_dict, to_numpy_state_dict
from scratchlstm.text import CharTokenizer
from scratchlstm.training import Trainer

pytestmark = pytest.mark.gpu

TEXT = "the cat sat on the mat. the dog sat on the log. " * 30


def char_setup():
    tok = CharTokenizer().fit(TEXT)
    ids = numpy.array(tok.encode(TEXT))
    n = len(ids)
    return tok, {"train": ids[: int(0.8 * n)], "valid": ids[int(0.8 * n): int(0.9 * n)],
                 "test": ids[int(0.9 * n):]}


CONFIG = dict(epochs=2, batch_size=4, eval_batch_size=2, bptt=12, lr=5e-3, progress=False,
              max_steps_per_epoch=6)


def test_training_on_cuda_resumes_like_an_uninterrupted_run(tmp_path):
    """Train 2 epochs on the GPU with dropout; separately train 1, resume from last.npz on the
    GPU, train the second: the same losses (dropout masks depend only on seed and step)."""
    tok, data = char_setup()
    straight = Trainer(LSTMLanguageModel(tok.vocab_size, 16, 24, 2, dropout=0.3, seed=0, device="cuda"),
                       data, CONFIG, tokenizer=tok, log=None)
    straight.fit()
    first = Trainer(LSTMLanguageModel(tok.vocab_size, 16, 24, 2, dropout=0.3, seed=0, device="cuda"),
                    data, dict(CONFIG, epochs=1), tokenizer=tok, out_dir=tmp_path, log=None)
    first.fit()
    resumed = Trainer.resume(tmp_path / "last.npz", data, device="cuda", log=None, epochs=2)
    assert resumed.model.device == "cuda"
    resumed.fit()
    for a, b in zip(straight.history, resumed.history, strict=True):
        assert math.isclose(a["train_loss"], b["train_loss"], rel_tol=1e-5)
        assert math.isclose(a["valid_loss"], b["valid_loss"], rel_tol=1e-5)


def test_trainer_accepts_token_ids_on_the_device():
    """Token streams given as device arrays are copied to the host explicitly (batching and id
    checks happen there), not converted implicitly."""
    tok, data = char_setup()
    on_device = {k: to_device(v, "cuda") for k, v in data.items()}
    model = LSTMLanguageModel(tok.vocab_size, 8, 8, 1, seed=0, device="cuda")
    trainer = Trainer(model, on_device, dict(CONFIG, epochs=1), log=None)
    history = trainer.fit()
    assert math.isfinite(history[0]["valid_loss"])


def test_dropout_draws_the_same_masks_on_both_devices():
    """The same model with dropout, in training mode, gives the same logits on the CPU and the
    GPU (within float32 round-off): the masks are computed from (seed, step, layer), not drawn
    from device-specific generators."""
    cpu = LSTMLanguageModel(30, 16, 24, 2, dropout=0.5, seed=3).train()
    gpu = LSTMLanguageModel(30, 16, 24, 2, dropout=0.5, seed=3, device="cuda").train()
    ids = numpy.random.default_rng(0).integers(0, 30, (9, 4))
    for model in (cpu, gpu):
        model.seed_dropout(7, step=11)
    assert relative_error(cpu(ids)[0], to_host(gpu(ids)[0])) < 1e-5


def test_the_warm_up_makes_kernel_compilation_visible():
    """Training on the GPU starts by compiling (or loading) the CUDA kernels under a message,
    instead of a silent pause in step 1; the warm-up changes no weight."""
    tok, data = char_setup()
    model = LSTMLanguageModel(tok.vocab_size, 8, 8, 1, seed=0, device="cuda")
    before = model.state_dict()
    lines = []
    trainer = Trainer(model, data, dict(CONFIG, epochs=1), log=lines.append)
    trainer.warm_up()
    assert any("CUDA kernels" in line and ("compiling" in line or "loading" in line) for line in lines)
    assert any("ready in" in line for line in lines)
    for name, value in model.state_dict().items():
        assert numpy.array_equal(value, before[name]), name


def test_checkpoint_loading_follows_the_environment(tmp_path, monkeypatch):
    """load_model(path) with $SCRATCHLSTM_DEVICE=cuda loads onto the GPU (what evaluate, generate
    and serve do when no --device is given); an explicit device wins."""
    tok, _ = char_setup()
    path = save_checkpoint(tmp_path / "m.npz", LSTMLanguageModel(tok.vocab_size, 8, 8, 1, seed=0), tok)
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "cuda")
    assert load_model(path)[0].device == "cuda"
    assert LSTMLanguageModel(5, 4, 4).device == "cuda"
    assert load_model(path, device="cpu")[0].device == "cpu"


def test_cli_evaluate_and_generate_run_on_the_device_from_the_environment(tmp_path, monkeypatch, capsys):
    """`evaluate` and `generate` without --device run where $SCRATCHLSTM_DEVICE says."""
    from scratchlstm import checkpoint
    from scratchlstm.cli import main

    devices = []
    original = checkpoint.load_model

    def recording_load_model(*args, **kwargs):
        model, tokenizer = original(*args, **kwargs)
        devices.append(model.device)
        return model, tokenizer

    monkeypatch.setattr(checkpoint, "load_model", recording_load_model)
    tok, _ = char_setup()
    (tmp_path / "corpus.txt").write_text(TEXT.replace(". ", ".\n"))
    path = save_checkpoint(tmp_path / "m.npz", LSTMLanguageModel(tok.vocab_size, 8, 8, 1, seed=0), tok)
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "cuda")
    assert main(["evaluate", "--checkpoint", str(path), "--data", str(tmp_path / "corpus.txt"),
                 "--split", "valid"]) == 0
    assert main(["generate", "--checkpoint", str(path), "--prompt", "the", "--max-new-tokens", "5",
                 "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "perplexity" in out and "the" in out
    assert devices == ["cuda", "cuda"]


def test_generation_on_the_device_matches_the_cpu(tmp_path):
    """Greedy generation gives the same text on both devices; the sampling functions accept
    device logits (copied to the host explicitly)."""
    tok, _ = char_setup()
    cpu = LSTMLanguageModel(tok.vocab_size, 8, 16, 1, seed=2)
    gpu = LSTMLanguageModel(tok.vocab_size, 8, 16, 1, seed=2, device="cuda")
    assert generate(cpu, tok, "the ", 12, temperature=0.0) == generate(gpu, tok, "the ", 12, temperature=0.0)
    logits, _ = gpu(numpy.array([[1], [2]]))
    probs = next_token_distribution(logits[-1, 0], temperature=0.7, top_k=5, top_p=0.9)
    assert isinstance(probs, numpy.ndarray) and math.isclose(probs.sum(), 1.0)


def test_server_on_the_device_answers(tmp_path, monkeypatch):
    """`serve` builds its model where $SCRATCHLSTM_DEVICE says, and generates from there."""
    from scratchlstm.server import make_server

    tok, _ = char_setup()
    path = save_checkpoint(tmp_path / "m.npz", LSTMLanguageModel(tok.vocab_size, 8, 8, 1, seed=0), tok)
    monkeypatch.setenv("SCRATCHLSTM_DEVICE", "cuda")
    server = make_server(path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        info = json.loads(urllib.request.urlopen(f"{url}/api/info", timeout=30).read())
        assert info["device"] == "cuda"
        request = urllib.request.Request(f"{url}/api/generate", method="POST",
                                         data=json.dumps({"prompt": "the", "max_new_tokens": 4,
                                                          "seed": 1}).encode())
        reply = json.loads(urllib.request.urlopen(request, timeout=30).read())
        assert len(reply["tokens"]) == 4
    finally:
        server.shutdown()
        server.server_close()


def test_interop_takes_a_state_dict_of_device_arrays():
    """from_torch_state_dict copies device arrays to the host explicitly."""
    model = LSTMLanguageModel(20, 8, 8, 2, seed=4)
    on_device = {k: to_device(v, "cuda") for k, v in to_numpy_state_dict(model).items()}
    back = from_torch_state_dict(on_device)
    for name, value in model.state_dict().items():
        assert numpy.array_equal(value, back.state_dict()[name]), name


@pytest.mark.slow
def test_lesson_11_runs_its_gpu_cells(monkeypatch):
    """Lesson 11 ("Going to the GPU") executes with a device present: its GPU branches (moving a
    model, the pitfalls, timing, training on the device) run too, not only their CPU fallbacks."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import os
    import sys
    from pathlib import Path

    # The notebook kernel runs in lessons/: give it this process's import path, made absolute.
    paths = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))

    lessons = Path(__file__).resolve().parents[1] / "lessons"
    sys.path.insert(0, str(lessons))
    from execute import execute

    nb, _ = execute(lessons / "11_going_to_the_gpu.ipynb", write=False)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.get("outputs", []))
    assert "GPU available: True" in printed and "trained on cuda" in printed
    assert "the same on the GPU: True" in printed


def test_the_transformer_trains_evaluates_and_generates_on_the_device():
    """The transformer runs through the same backend: the same logits and gradients as on the
    CPU (float64), then a short training run and generation on 'cuda'."""
    from scratchlstm.transformer import TransformerLanguageModel  # noqa: PLC0415

    cpu = TransformerLanguageModel(30, 16, 2, 2, 8, dtype="float64", seed=2).eval()
    gpu = TransformerLanguageModel(30, 16, 2, 2, 8, dtype="float64", seed=2, device="cuda").eval()
    ids = numpy.random.default_rng(1).integers(0, 30, (8, 3))
    targets = numpy.random.default_rng(2).integers(0, 30, (8, 3))
    for model in (cpu, gpu):
        logits, _ = model(ids)
        _, dlogits = model.loss(logits, model.to_device_ids(targets))
        model.zero_grad()
        model.backward(dlogits)
    assert relative_error(cpu(ids)[0], to_host(gpu(ids)[0])) < 1e-12
    for (name, p), (_, q) in zip(cpu.named_parameters(), gpu.named_parameters(), strict=True):
        assert relative_error(p.grad, to_host(q.grad)) < 1e-10, name
    tok, data = char_setup()
    model = TransformerLanguageModel(tok.vocab_size, 16, 2, 2, 12, seed=0, device="cuda")
    history = Trainer(model, data, dict(CONFIG, epochs=1), tokenizer=tok, log=None).fit()
    assert math.isfinite(history[0]["valid_loss"])
    assert len(generate(model, tok, "the ", max_new_tokens=20, seed=0)) > 0


def test_inference_and_the_batch_one_stepper_on_the_device_match_the_cpu():
    """model.inference() (fast.lstm_inference, fast.cross_entropy) and the batch-1 stepper give
    the CPU's numbers on 'cuda'."""
    from scratchlstm.training import evaluate  # noqa: PLC0415

    cpu = LSTMLanguageModel(30, 8, 8, 2, tie_weights=True, dtype="float64", seed=4).eval()
    gpu = LSTMLanguageModel(30, 8, 8, 2, tie_weights=True, dtype="float64", seed=4, device="cuda").eval()
    ids = numpy.random.default_rng(3).integers(0, 30, 120)
    assert math.isclose(evaluate(cpu, ids, 3, 7), evaluate(gpu, ids, 3, 7), rel_tol=1e-12)
    steppers = cpu.batch_one_stepper(), gpu.batch_one_stepper()
    for token in (1, 5, 9, 2):
        ours, theirs = (s.step(token) for s in steppers)
        assert relative_error(ours, to_host(theirs)) < 1e-12
