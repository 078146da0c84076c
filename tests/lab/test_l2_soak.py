"""Half a minute of the layer-2 soak: both cores busy and a resync storm, and not one false failover.

The short version of bench/l2_soak_bench.py (whose ten-minute run gives the figures): twenty
Services spread over the three nodes, two busy loops, and the storm of bench/l2_soak_storm.py
(annotations on the Services, their EndpointSlices, the pool and the advertisement, a label on
every Node, each speaker's API connections cut every few seconds). Judged by the rule of
bench/l2_soak_judge.py: any silence of a VIP above the failover bound (the speakers' dead-after,
the least silence a real failover leaves), whatever the prober did meanwhile, any answer from a
second node, any live-member dip or peer declared dead, and any announce or withdraw a speaker
logged is a false failover, and there must be none; the storm must have made every speaker
re-plan on a change and resume cut watches, or the run proves nothing.

Both failure-detection profiles (each with the layer-2 engine under SCHED_FIFO): the default one,
and ``fast`` (heartbeat 25 ms, dead after 75 ms), whose bound is its own 75 ms.
"""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.membership.service import PROFILES
from bench.l2_soak_bench import Settings, serve_vips, soak

SECONDS = 30.0  # make test's share; the bench runs 600
SERVICES = 20


@pytest.mark.parametrize("profile", ["default", "fast"])
def test_half_a_minute_of_busy_cores_and_resync_storm_moves_no_vip(
    lab, cluster, l2, start_controller, speakers, namespace, profile
):
    served = serve_vips(
        lab, cluster, l2, start_controller, speakers,
        namespace=namespace, count=SERVICES, speaker_args=(f"--ml-profile={profile}",),
    )  # fmt: skip
    assert len(set(served.owners.values())) == len(lab.nodes), f"VIPs not on every node: {served.owners}"

    timing = PROFILES[profile]
    settings = Settings(seconds=SECONDS, bound=timing.dead_after, dead_after=timing.dead_after)
    report = soak(lab, speakers, served, cluster.api, settings)

    figures = "\n".join(report.lines)
    print(figures)  # shown with -s or -rP: the run's figures, also when it passes
    assert report.verdict.false_failovers == 0, f"false failovers:\n{figures}"
    assert not report.storm_problems, f"the storm did no work:\n{figures}"
