"""benchmarks/ab_speed_tricks.py switches each speed trick off inside a context: it must really
switch it (or the A/B compares a trick with itself), restore it afterwards, and run end to end."""
import runpy
from pathlib import Path

import numpy as np
import pytest

from scratchlstm.nn import fast

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    return runpy.run_path(str(REPO / "benchmarks" / "ab_speed_tricks.py"))


def test_the_gates_trick_switches_the_gate_form(bench):
    assert fast.gate_form(4, np.float32, np).exp
    with bench["trick_off"]("gates"):
        assert not fast.gate_form(4, np.float32, np).exp
    assert fast.gate_form(4, np.float32, np).exp


def test_the_loss_blocks_trick_switches_to_one_block(bench):
    assert len(list(fast._row_blocks(100, 10_000, np))) > 1
    with bench["trick_off"]("loss-blocks"):
        assert list(fast._row_blocks(100, 10_000, np)) == [(0, 100)]
    assert len(list(fast._row_blocks(100, 10_000, np))) > 1


def test_an_unknown_trick_is_refused(bench):
    with pytest.raises(ValueError, match="unknown trick"):
        with bench["trick_off"]("warp-drive"):
            pass


def test_it_measures_both_modes(bench, capsys):
    bench["report"](bench["TRICKS"], ["tiny"], rounds=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| gates") or line.startswith("| loss")]
    assert len(lines) == 2
    for line in lines:
        train, evaluate = (float(cell) for cell in line.strip("|").split("|")[2:4])
        assert train > 0 and evaluate > 0
