"""The workbook and its grader: fresh stubs, a workbook of known bugs, and the library itself.

Three targets, as CI grades them: the library passes every rung; a fresh workbook is "not written
yet" everywhere and exits 0 without a traceback; ``tests/buggy_workbook`` fails every function it
wrote, each with the hint for its bug. The detectors the buggy workbook does not reach are checked
here with bug variants made by wrapping the library's functions (the tests hold no solutions).
"""
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from scratchlstm import LSTMLanguageModel
from scratchlstm.nn import functional as F
from scratchlstm.workbook import FUNCTIONS, TOPICS, check, grade, new_workbook
from scratchlstm.workbook.ladder import StudentError, guarded

REPO = Path(__file__).resolve().parents[1]
BUGGY = REPO / "tests" / "buggy_workbook"


def run(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_a_fresh_workbook_is_not_written_yet_everywhere(tmp_path):
    """`workbook new` then `workbook check`: every function 'not written yet', exit 0, no traceback."""
    made = run("scratchlstm", "workbook", "new", str(tmp_path / "wb"))
    assert made.returncode == 0, made.stderr
    assert {p.name for p in (tmp_path / "wb").iterdir()} == {t.file for t in TOPICS.values()} | {"README.md"}
    checked = run("scratchlstm", "workbook", "check", str(tmp_path / "wb"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Traceback" not in checked.stdout + checked.stderr
    assert checked.stdout.count("not written yet") == len(FUNCTIONS) + 1      # + the summary line
    assert f"0 passed, 0 failed, {len(FUNCTIONS)} not written yet" in checked.stdout


def test_new_refuses_to_overwrite_a_students_work(tmp_path):
    new_workbook(tmp_path)
    (tmp_path / "lstm.py").write_text("# my work\n")
    with pytest.raises(FileExistsError, match="--overwrite"):
        new_workbook(tmp_path)
    assert (tmp_path / "lstm.py").read_text() == "# my work\n"
    result = run("scratchlstm", "workbook", "new", str(tmp_path))
    assert result.returncode == 2 and "nothing was written" in result.stderr


def test_every_stub_mirrors_the_library_signature(tmp_path):
    """Each stub has the library's name and parameters, its docstring, and raises
    NotImplementedError; the files import."""
    import inspect

    from scratchlstm.workbook import load_workbook
    from scratchlstm.workbook.catalogue import reference

    new_workbook(tmp_path)
    wb = load_workbook(tmp_path)
    assert not wb.problems
    for name in FUNCTIONS:
        stub, ref = wb.functions[name], reference(name)
        assert list(inspect.signature(stub).parameters) == list(inspect.signature(ref).parameters)
        assert inspect.getdoc(stub) == inspect.getdoc(ref)
        assert "Compute:" in inspect.getsource(stub)


# The buggy workbook: function -> a phrase of the hint that must appear under it.
EXPECTED_HINTS = {
    "lstm_step_backward": "misses the route through h",
    "lstm_step_forward": "order i, f, o, g",
    "lstm_backward": "gradient from the future is not added",
    "rnn_step_backward": "dWh must use h_{t-1}",
    "affine_backward": "db must be summed over every row",
    "embedding_backward": "dW[ids] += dout loses repeated ids",
    "adam_step": "bias corrections",
    "clip_grad_norm": "Clip by the *global* norm",
    "top_p_filter": "keeps the token that crosses p",
    "softmax_cross_entropy": "subtract each row's maximum",
    "rnn_backward": "add their gradients up over time",
    "dropout_forward": "Scale the survivors",
    "merge_pair": "Occurrences do not overlap",
    "train_step": "Pass the carried state into the model",
}


@pytest.fixture(scope="module")
def buggy_report():
    return run("scratchlstm", "workbook", "check", str(BUGGY))


def test_the_buggy_workbook_exits_1_without_a_traceback(buggy_report):
    assert buggy_report.returncode == 1
    assert "Traceback" not in buggy_report.stdout + buggy_report.stderr
    assert f"0 passed, {len(EXPECTED_HINTS)} failed" in buggy_report.stdout


def _section(report: str, name: str) -> str:
    """The lines the grader printed for function ``name``."""
    lines = report.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[1:2] == [name])
    end = next((k for k in range(start + 1, len(lines))
                if lines[k][:4] in ("PASS", "FAIL", "----") or not lines[k].strip()), len(lines))
    return "\n".join(lines[start:end])


@pytest.mark.parametrize("name", sorted(EXPECTED_HINTS))
def test_every_known_bug_is_caught_with_its_hint(buggy_report, name):
    section = _section(buggy_report.stdout, name)
    assert section.startswith("FAIL"), section
    assert EXPECTED_HINTS[name] in " ".join(section.split()), section


def test_the_buggy_workbooks_stubs_are_not_written_yet(buggy_report):
    for name in set(FUNCTIONS) - set(EXPECTED_HINTS):
        assert "not written yet" in _section(buggy_report.stdout, name)


def test_only_grades_the_named_functions_and_refuses_unknown_ones():
    result = run("scratchlstm", "workbook", "check", str(BUGGY), "--only", "merge_pair")
    assert result.returncode == 1 and "0 passed, 1 failed, 0 not written yet" in result.stdout
    unknown = run("scratchlstm", "workbook", "check", str(BUGGY), "--only", "lstm_step_forwad")
    assert unknown.returncode == 2 and "did you mean lstm_step_forward" in unknown.stderr
    missing = run("scratchlstm", "workbook", "check", str(BUGGY / "nowhere"))
    assert missing.returncode == 2 and "workbook new" in missing.stderr


def test_pytest_grades_a_workbook_with_the_same_ladder():
    """`pytest tests/ --workbook DIR` runs the numbered tests on the student's functions: the
    buggy LSTM step fails with its hint, unwritten functions skip, library-only tests are left out."""
    result = run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_06_lstm_cell.py",
                 "--workbook", str(BUGGY), "-k", "ladder or zero_weights or by_hand")
    out = result.stdout
    assert result.returncode == 1, out
    assert "misses the route through h" in " ".join(out.split())
    assert "deselected" in out and "failed" in out


# ----------------------------------------------------------------------------------------------
# A workbook made of the library's own functions passes, and trains like the library
# ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def library_workbook(tmp_path_factory):
    """A workbook whose files import the library's functions: what a finished workbook grades as."""
    from scratchlstm.workbook.catalogue import TOPICS

    folder = tmp_path_factory.mktemp("library_workbook")
    for topic in TOPICS.values():
        module = topic.reference_module.__name__
        (folder / topic.file).write_text(f"from {module} import {', '.join(topic.functions)}\n")
    return folder


def test_a_finished_workbook_passes_every_rung(library_workbook):
    """Loaded from files, a function of each topic (and the LSTM's four) passes every rung. (The
    numbered tests climb the ladder for all 27 functions of the library.)"""
    names = ["affine_backward", "rnn_backward", "lstm_step_forward", "lstm_step_backward",
             "lstm_forward", "lstm_backward", "adam_step", "top_p_filter", "learn_merges", "train_step"]
    results = grade(library_workbook, only=names)
    assert [r.name for r in results] == names
    assert all(r.passed for r in results), "\n".join(r.report(verbose=True) for r in results)
    assert all(any(rung.level == "integration" for rung in r.rungs) for r in results)


def test_a_model_trains_with_a_workbook_exactly_as_with_the_library(library_workbook):
    """LSTMLanguageModel(functional=DIR) runs the workbook's functions: same losses as the library."""
    from scratchlstm import Adam

    ids = numpy.random.default_rng(0).integers(0, 9, size=(12, 3))
    losses = {}
    for functional in ("fast", library_workbook):
        model = LSTMLanguageModel(9, 8, 8, num_layers=2, dropout=0.2, dtype="float64", seed=1,
                                  functional=functional)
        opt = Adam(model.parameters(), lr=0.01)
        run_losses = []
        for step in range(3):
            model.seed_dropout(step)
            logits, _ = model(ids[:-1])
            loss, dlogits = model.loss(logits, ids[1:])
            model.zero_grad()
            model.backward(dlogits)
            opt.step()
            run_losses.append(float(loss))
        losses[str(functional)] = run_losses
    assert "workbook" in repr(model)
    a, b = losses.values()
    assert numpy.allclose(a, b, rtol=1e-12, atol=0)


def test_a_model_with_unwritten_functions_says_which(tmp_path):
    new_workbook(tmp_path)
    model = LSTMLanguageModel(9, 8, 8, functional=tmp_path)
    with pytest.raises(NotImplementedError, match="embedding_forward is not written yet"):
        model(numpy.zeros((3, 2), dtype=numpy.int64))


def test_through_time_functions_are_graded_with_the_librarys_steps(tmp_path):
    """lstm_forward written, lstm_step_forward still a stub: lstm_forward is graded on its own."""
    new_workbook(tmp_path)
    text = (tmp_path / "lstm.py").read_text()
    text += "\n\nfrom scratchlstm.nn.functional import lstm_forward  # noqa: E402,F811\n"
    (tmp_path / "lstm.py").write_text(text)
    results = {r.name: r for r in grade(tmp_path, only=["lstm_step_forward", "lstm_forward"])}
    assert results["lstm_step_forward"].status == "not written yet"
    assert results["lstm_forward"].passed, results["lstm_forward"].report(verbose=True)


def test_a_file_that_does_not_import_is_a_failure_not_a_traceback(tmp_path):
    new_workbook(tmp_path)
    (tmp_path / "rnn.py").write_text("def rnn_step_forward(x, h_prev, Wx, Wh, b)\n    return x\n")
    result = run("scratchlstm", "workbook", "check", str(tmp_path), "--only", "rnn_step_forward")
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "rnn.py does not import" in result.stdout and "line 1" in result.stdout


# ----------------------------------------------------------------------------------------------
# The grader's messages for bugs the buggy workbook does not carry
# ----------------------------------------------------------------------------------------------
def _with(fn, position, change):
    """A bug variant: ``fn`` with its output ``position`` passed through ``change``."""
    def buggy(*args):
        out = list(fn(*args))
        out[position] = change(out[position], *args)
        return tuple(out)
    return buggy


def _dwh_from_h(dWh, dh, dc, cache):
    from scratchlstm.workbook.specs.recurrent import _gate_gradient
    return (cache.o * cache.tanh_c).T @ _gate_gradient(dh, dc, cache)


def _lstm_backward_overwriting(dhs, cache, dh_T=None, dc_T=None):
    """lstm_backward that keeps only the last step's (t = 0) weight gradients."""
    dx, dh0, dc0, *_ = F.lstm_backward(dhs, cache, dh_T, dc_T)
    last = F.lstm_step_backward(*_backward_inputs_at_step_0(dhs, cache, dh_T, dc_T))
    return (dx, dh0, dc0, *last[3:])


def _backward_inputs_at_step_0(dhs, cache, dh_T, dc_T):
    # the gradients reaching step 0 are those the library's backward over steps 1.. sends down
    from scratchlstm.nn.functional import LSTMCache
    if len(cache.steps) == 1:
        dh = (dhs[0] if dhs is not None else 0) + (dh_T if dh_T is not None else 0)
        dc = dc_T if dc_T is not None else numpy.zeros_like(cache.steps[0].c_prev)
        return (numpy.zeros_like(cache.steps[0].h_prev) + dh, dc, cache.steps[0])
    _, dh1, dc1, *_ = F.lstm_backward(None if dhs is None else dhs[1:], LSTMCache(cache.steps[1:]), dh_T, dc_T)
    return ((dhs[0] if dhs is not None else 0) + dh1, dc1, cache.steps[0])


VARIANTS = {
    "lstm_step_backward h_t in dWh": (
        "lstm_step_backward", _with(F.lstm_step_backward, 4, _dwh_from_h), "dWh must use h_{t-1}"),
    "lstm_backward overwrites the weight gradients": (
        "lstm_backward", _lstm_backward_overwriting, "add their gradients up over time"),
    "lstm_forward restarts every step": (
        "lstm_forward", lambda x, h0, c0, Wx, Wh, b: _restarting(x, h0, c0, Wx, Wh, b), "Carry the state"),
    "cross-entropy summed, not averaged": (
        "softmax_cross_entropy",
        lambda z, y: tuple(v * z.reshape(-1, z.shape[-1]).shape[0] for v in F.softmax_cross_entropy(z, y)),
        "*mean* over the N"),
    "locked dropout redrawn at every step": (
        "dropout_forward", lambda x, p, rng, locked=False: F.dropout_forward(x, p, rng, False),
        "one draw per sequence"),
    "clip returns the norm after clipping": (
        "clip_grad_norm", lambda params, max_norm: min(__import__("scratchlstm").clip_grad_norm(params, max_norm), max_norm),
        "norm from *before* clipping"),
    "sgd rebinds instead of updating in place": (
        "sgd_step", lambda param, grad, velocity, lr, momentum=0.0: None, "in place"),
}


def _restarting(x, h0, c0, Wx, Wh, b):
    hs, _, cache = F.lstm_forward(x, h0, c0, Wx, Wh, b)
    steps = [F.lstm_step_forward(x[t], h0, c0, Wx, Wh, b) for t in range(x.shape[0])]
    return numpy.stack([s[0] for s in steps]), steps[-1][:2], cache


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_other_known_bugs_get_their_hints(variant):
    name, fn, phrase = VARIANTS[variant]
    result = check(name, fn, quiet=True)
    assert result.failed
    assert any(phrase in hint for hint in result.hints), result.report(verbose=True)


def test_a_crash_is_reported_with_the_students_line():
    def broken(x, W, b):
        return x @ W.T + b                     # wrong orientation: a shape error
    result = check("affine_forward", broken, quiet=True)
    report = result.report(verbose=True)
    assert result.failed and "raised ValueError" in report and "test_workbook.py" in report
    assert "x @ W.T + b" in report


def test_an_endless_loop_is_stopped():
    def forever():
        while True:
            pass
    with pytest.raises(StudentError, match="did not finish"):
        guarded(forever, seconds=0.2)


def test_check_prints_the_ladder_and_reports_a_stub_as_not_written(capsys):
    def stub(x, W, b):
        raise NotImplementedError("affine_forward is not written yet")
    assert check("affine_forward", stub).status == "not written yet"
    assert "not written yet" in capsys.readouterr().out
    assert check("affine_forward", F.affine_forward, quiet=True).passed
    with pytest.raises(ValueError, match="did you mean affine_forward"):
        check("afine_forward")
