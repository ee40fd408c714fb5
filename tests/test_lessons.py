"""Every lesson notebook runs top to bottom without an error (the lessons never rot), and
``lessons/execute.py`` stores stable files and can check without writing."""
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(LESSONS))

from execute import coalesce_streams, execute, main, strip_volatile  # noqa: E402


def test_there_are_sixteen_lessons():
    """Thirteen lessons, the appendix "under the hood", the LSTM-transformer study and AWD-LSTM;
    the glob of the test below finds all."""
    assert len(NOTEBOOKS) == 16
    assert NOTEBOOKS[-3].name == "14_under_the_hood.ipynb"
    assert NOTEBOOKS[-2].name == "15_lstm_versus_transformer.ipynb"
    assert NOTEBOOKS[-1].name == "16_awd_lstm.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lesson_runs(path):
    """Does the lesson still run against the current library? Any cell error fails the test."""
    nb, seconds = execute(path, write=False)
    assert seconds < 180, f"{path.name} took {seconds:.0f} s; lessons should stay under ~90 s"
    # An error while drawing a figure (e.g. bad mathtext) is reported as an output, not raised.
    errors = [(k, out.get("ename"), out.get("evalue", "")[:200]) for k, cell in enumerate(nb.cells)
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, f"{path.name}: error outputs in cells {errors}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_lesson_has_no_volatile_metadata(path):
    """A stored lesson holds outputs but no execution timestamps (they would change the file at
    every run) and has been executed (every code cell has an execution count)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        assert "execution" not in cell.get("metadata", {}), f"{path.name}: a cell keeps timestamps"
        if cell["cell_type"] == "code" and cell["source"]:
            assert cell["execution_count"] is not None, f"{path.name}: a code cell was not executed"
            kinds = [out["output_type"] for out in cell["outputs"]]
            assert "error" not in kinds, f"{path.name}: a stored output is an error: {cell['source'][:80]}"
            streams = [out.get("name") if out["output_type"] == "stream" else None for out in cell["outputs"]]
            assert not any(a is not None and a == b for a, b in zip(streams, streams[1:])), \
                f"{path.name}: printed text stored in pieces (run lessons/execute.py): {cell['source'][:80]}"


def _tiny_notebook(path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("A tiny lesson."),
                nbformat.v4.new_code_cell("print(6 * 7)")]
    nb.cells[1].metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00Z"}
    nbformat.write(nb, path)


def test_strip_volatile_removes_timestamps():
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("1")]
    nb.cells[0].metadata.update(execution={"shell.execute_reply": "now"}, tags=["keep"])
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    strip_volatile(nb)
    assert nb.cells[0].metadata == {"tags": ["keep"]}          # authors' metadata stays
    assert nb.metadata["language_info"] == {"name": "python"}


def test_printed_text_is_stored_the_same_however_it_arrived():
    """Two prints that arrived as two messages, or as one, are stored as one output."""
    import nbformat

    two = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
           nbformat.v4.new_output("stream", name="stdout", text="b\n"),
           nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
           nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    joined = coalesce_streams(two)
    assert [(o["name"], o["text"]) for o in joined] == [("stdout", "a\nb\n"), ("stderr", "warning\n"),
                                                        ("stdout", "c\n")]


def test_execute_writes_a_stable_file_and_check_writes_nothing(tmp_path, capsys):
    """Run a tiny notebook twice: the second run leaves the file byte for byte as the first wrote
    it (no timestamps), and ``--check`` executes without touching the file."""
    path = tmp_path / "99_tiny.ipynb"
    _tiny_notebook(path)
    original = path.read_text()
    assert main(["--check", str(path)]) == 0
    assert path.read_text() == original                        # --check: not written
    assert "checked, not written" in capsys.readouterr().out

    execute(path)
    first = path.read_text()
    assert '"42\\n"' in first and "iopub" not in first          # the output, no timestamps
    mtime = path.stat().st_mtime_ns
    execute(path)
    assert path.read_text() == first
    assert path.stat().st_mtime_ns == mtime                      # unchanged content: not rewritten


def test_check_reports_a_failing_notebook(tmp_path, capsys):
    import nbformat

    path = tmp_path / "98_broken.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("raise ValueError('lesson is broken')")]
    nbformat.write(nb, path)
    assert main(["--check", str(path)]) == 1
    assert "FAILED" in capsys.readouterr().out
    assert main(["--check", str(tmp_path / "nope.ipynb")]) == 2


def _your_turn_cells():
    cells = []
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and "workbook import check" in source and "raise NotImplementedError" in source:
                cells.append((path.stem, source, cell["outputs"]))
    return cells


def test_your_turn_cells_store_stubs_reported_as_not_written():
    """Every "your turn" cell defines stubs and grades them; its stored output shows each stub as
    "not written yet" and never a solution's PASS. Lessons 2 and 4 to 10 and 12 have them."""
    cells = _your_turn_cells()
    assert {stem[:2] for stem, _, _ in cells} == {"02", "04", "05", "06", "07", "08", "09", "10", "12"}
    graded = []
    for stem, source, outputs in cells:
        text = "".join("".join(out.get("text", "")) for out in outputs if out["output_type"] == "stream")
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines and all("not written yet" in line for line in lines), f"{stem}: {text[:300]}"
        assert "PASS" not in text and "FAIL" not in text
        graded += [line.split()[1] for line in lines]
    from scratchlstm.workbook import FUNCTIONS

    assert sorted(graded) == sorted(FUNCTIONS)     # every workbook function, each once
