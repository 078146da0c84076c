"""The engine-side scale bench, small: it runs, both ways of deciding agree, and it prints each figure."""

from __future__ import annotations

import pytest

from bench.l2_decide_scale_bench import main


def test_a_small_run_prints_every_figure_and_no_failed_trial(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--nodes", "60", "--services", "400", "--announcing-nodes", "5", "--reps", "2"]) == 0
    printed = capsys.readouterr().out
    for figure in (
        "take the whole plan (400 claims): ",
        "take the change after endpoint (",
        "take the change after announcer-delete (",
        "decide after a death, with the engine's ranks: ",
        "decide after a death, every candidate hashed again: ",
        "decide after a new plan: ",
        "failed trials: 0 of 2",
    ):
        assert figure in printed, printed
