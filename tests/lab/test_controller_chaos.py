"""The controller chaos bench, short: kill -9 during churn loses, duplicates and changes nothing.

bench/chaos/controller.py runs the full version (5,000 Services, 20 kills); this runs the same
code with 200 Services and 3 kills, each kill landing while the controller's log shows an IP
chosen whose status patch is not yet sent (the controller is frozen there first, then killed).
"""

from __future__ import annotations

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from bench.chaos import controller as chaos


def test_kill_9_during_churn_duplicates_loses_and_changes_no_ip(lab, controller_config, tmp_path):
    lines: list[str] = []
    settings = chaos.Settings(services=200, kills=3, seed=13, timeout=120)
    admin = KubeApi.connect(str(lab.kubeconfig), pool_size=chaos.ADMIN_CONNECTIONS)
    totals = chaos.run(admin, controller_config, tmp_path, settings, lines.append)
    report = "\n".join(lines)
    assert len(totals.trials) == 3, report
    assert totals.failed == 0, report
    assert (totals.duplicates, totals.lost, totals.changed, totals.outside) == (0, 0, 0, 0), report
    assert totals.in_flight_kills >= 1, report
