"""The BGP scale bench in short: both senders deliver every prefix to BIRD and take them back.

A run of bench/bgp_scale_bench.py with 200 prefixes and one trial each, so `make test` keeps the
bench working (the lead runs the full figures with `python -m bench.bgp_scale_bench`).
"""

from __future__ import annotations

from bench import bgp_scale_bench

from .conftest import Lan

PREFIXES = 200


def test_our_speaker_and_gobgp_each_deliver_every_prefix_and_withdraw_them(lan: Lan) -> None:
    lines: list[str] = []
    results = bgp_scale_bench.run(lan, [PREFIXES], reps=2, say=lines.append)

    # A trial has a figure only when BIRD held exactly PREFIXES routes from that sender and
    # none once the sender withdrew them.
    assert results.failed == []
    # After the warm-up round (speaker first), who goes first alternates: B A, then A B.
    order = ["gobgp", "speaker", "speaker", "gobgp"]
    assert [(t.system, t.size) for t in results.trials] == [(system, PREFIXES) for system in order]
    assert all(t.seconds is not None and t.seconds > 0 for t in results.trials)
    held = results.memory["speaker", PREFIXES]
    assert held["VmRSS"] > 0 and held["VmHWM"] >= held["VmRSS"]
    table = bgp_scale_bench.report(results, [PREFIXES])
    assert f"{PREFIXES} prefixes: speaker / GoBGP = " in table
    assert "Failed trials: 0" in table
