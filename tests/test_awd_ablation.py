"""The ablation ladder runs end to end on a slice of the COVID corpus, skips finished rungs on a
rerun, and reports each rung's change against the full recipe beside the paper's, and the spread
between seeds of the full recipe."""
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
    # the full recipe with another seed: its own file, and the seed-to-seed spread under the table
    main(argv + ["--rungs", "full", "--seed", "1"])
    again = json.loads((folder / "full-seed1.json").read_text())
    assert again["seed"] == 1 and again["result"]["test_ppl"] != full["result"]["test_ppl"]
    spread = abs(again["result"]["test_ppl"] - full["result"]["test_ppl"])
    assert f"The full recipe with 2 seeds" in (folder / "table.md").read_text()
    assert f"(spread {spread:.1f})" in (folder / "table.md").read_text()


def test_average_gain_evaluates_the_last_iterate_and_the_average(tmp_path, capsys, corpus):
    from conftest import TINY_CLI, cli_main

    out = tmp_path / "run"
    code, _, err = cli_main(capsys, "train", "--data", corpus, *TINY_CLI, "--epochs", "2", "--optimizer",
                            "ntasgd", "--lr", "2", "--average-after", "1", "--out", out, "--no-progress")
    assert code == 0, err
    main = runpy.run_path(str(REPO / "benchmarks" / "awd_average_gain.py"))["main"]
    assert main([str(out / "last.npz"), "--out", str(tmp_path / "gain.json")]) == 0
    gain = json.loads((tmp_path / "gain.json").read_text())
    assert gain["switched_at_epoch"] == 1 and gain["steps_averaged"] > 0 and gain["epochs_trained"] == 2
    # the two sets of weights differ, so their perplexities do; both are finite and above 1
    assert gain["iterate_valid_ppl"] != gain["average_valid_ppl"]
    assert all(1 < gain[f"{w}_{s}_ppl"] < 1e4 for w in ("iterate", "average") for s in ("valid", "test"))
