"""The failover bench's keepalived baselines on the lab: what we are compared with is measured right.

The bench runs every system on the same three nodes at once, so one system's link cut also
moves the other systems' VIPs. A revertive keepalived takes its VIP back by itself; one with
``nopreempt`` (the baseline of our non-revertive failback) does not, and the bench must hand it
back before that system's next trial instead of counting the move against it.
"""

from __future__ import annotations

from pathlib import Path

from bench.l2_failover_bench import SCENARIOS, VRRP_FAST_NOPREEMPT, answerers, trial, vrrp_system
from lab.state import LabState
from tests.lab.controller_harness import wait_for


def test_a_nopreempt_vip_moved_by_another_systems_link_cut_is_handed_back_before_its_trial(
    lab: LabState, tmp_path: Path
) -> None:
    with vrrp_system(lab, tmp_path, VRRP_FAST_NOPREEMPT) as system:
        link_cut = next(scenario for scenario in system.scenarios if scenario.name == SCENARIOS[0])
        wait_for(
            f"{system.owner} alone to hold {system.vip}", lambda: answerers(lab, system.vip) == {system.owner}
        )
        link_cut.act()  # as another system's trial would: the owner's link is theirs too
        try:
            wait_for(
                f"a backup to take {system.vip}", lambda: bool(answerers(lab, system.vip) - {system.owner})
            )
        finally:
            link_cut.restore()
        holders = answerers(lab, system.vip)
        assert system.owner not in holders, f"nopreempt: {system.owner} took {system.vip} back by itself"

        outcome = trial(lab, system, link_cut)

        assert outcome.errors == []
        assert outcome.new_owner not in (None, system.owner)
        assert not outcome.moved_back
        assert answerers(lab, system.vip) == {system.owner}
