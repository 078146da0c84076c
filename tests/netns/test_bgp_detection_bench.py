"""bench/bgp_detection_bench.py --quick end to end: every trial gives a figure, no restart loses the route.

The planned restarts include GoBGP with lab/routers.py's graceful-restart helper option, so this
is also that option's test (without it GoBGP drops the route on every restart: seen by hand).

The bench makes and removes its own namespaces; it runs as a child process so that a bench that
hangs is stopped with SIGTERM, which its cleanup handles, rather than left behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
QUICK_WITHIN = 150  # seconds; about 40 s on a quiet machine
BFD_DETECTS_WITHIN = 1.0  # seconds: far below the 90 s hold time, so BFD (100 ms x 3) did it


def run_quick() -> str:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bgp_detection_bench", "--quick"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out, _unused = proc.communicate(timeout=QUICK_WITHIN)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the bench removes its namespaces on SIGTERM
        out, _unused = proc.communicate(timeout=30)
        pytest.fail(f"the quick bench took more than {QUICK_WITHIN}s:\n{out[-3000:]}")
    assert proc.returncode == 0, out[-3000:]
    return out


def rows(out: str) -> dict[tuple[str, str], list[str]]:
    """The detection table's rows, by (fault, router): trials, RIB median, min, max, failed, kernel median."""
    table = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 9 and cells[1] == "BFD 100 ms x 3":
            table[(cells[0], cells[2])] = cells[3:]
    return table


def test_quick_bench_measures_every_trial_and_keeps_the_route_through_planned_restarts() -> None:
    out = run_quick()
    table = rows(out)
    assert set(table) == {(f, r) for f in ("link cut", "SIGKILL") for r in ("bird", "frr")}, out[-3000:]
    for (fault, router), (trials, median, _low, high, failed, kernel) in table.items():
        assert (trials, failed) == ("2", "0"), f"{fault} / {router}: {trials} trials, {failed} failed"
        assert float(high) < BFD_DETECTS_WITHIN, f"{fault} / {router}: took up to {high}s (median {median}s)"
        assert float(kernel.split()[0]) < BFD_DETECTS_WITHIN, (
            f"{fault} / {router}: kernel route went after {kernel}s"
        )
    restarts = {line.split(":")[0].strip(): line for line in out.splitlines() if "RIB samples" in line}
    assert set(restarts) == {"bird", "frr", "gobgp"}, out[-3000:]  # GoBGP with its GR helper (lab/routers.py)
    for router, line in restarts.items():
        assert ", 0 without the route" in line, f"{router} lost the route in a planned restart: {line}"
    assert "failed trials: 0" in out
