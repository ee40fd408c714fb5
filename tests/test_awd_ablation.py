"""The ablation ladder runs end to end on a slice of the COVID corpus, skips finished rungs on a
rerun, and reports each rung's change against the full recipe beside the paper's."""
import json
import runpy
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _main(argv):
    module = runpy.run_path(str(REPO / "benchmarks" / "ablate_awd.py"))
    return module["main"], module


def test_the_ladder_runs_resumes_and_reports(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["ablate_awd.py"])
    main, module = _main(None)
    argv = ["--max-chars", "15000", "--hidden", "12", "--epochs", "2", "--bptt", "12", "--batch", "4",
            "--threads", "1", "--out", str(tmp_path), "--rungs", "full", "no weight drop"]
    main(argv)
    folder = tmp_path / "covid"
    full = json.loads((folder / "full.json").read_text())
    assert full["model"]["weight_drop"] == 0.3 and full["config"]["optimizer"] == "ntasgd"
    # two epochs: averaging starts after the first at the latest (60% of 2, rounded)
    assert full["config"]["average_after"] == 1 and full["switched_at_epoch"] == 1
    dropped = json.loads((folder / "no-weight-drop.json").read_text())
    assert dropped["model"]["weight_drop"] == 0.0
    assert len(full["history"]) == 2
    table = (folder / "table.md").read_text()
    change = dropped["result"]["test_ppl"] - full["result"]["test_ppl"]
    assert f"| no weight drop | " in table and f"{change:+.1f}" in table and "+11.6" in table
    capsys.readouterr()
    main(argv)                                         # a rerun trains nothing again
    assert capsys.readouterr().out.count("done before: skipped") == 2
