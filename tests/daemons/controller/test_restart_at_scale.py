"""A short version of ``bench/controller_scale_bench.py``: the same restart over 1,200 Services.

The bench prints memory and restart time at 100,000; this checks the promises that hold at any
size: a restart re-claims every IP, moves none, writes nothing, and the Service cache holds the
trimmed form, trimmed page by page as the list arrives.
"""

import threading

import pytest

from ansible_collections.baremetal.lb.daemons.controller.service_view import slim_service
from ansible_collections.baremetal.lb.daemons.kube.informer import Informer
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import SERVICES
from bench.controller_scale_bench import ServedApi, restart

COUNT = 1200  # three pages of 500


@pytest.fixture
def api():
    stop = threading.Event()
    yield ServedApi(COUNT, stop)
    stop.set()


def test_a_restart_reclaims_every_ip_and_moves_or_writes_nothing():
    result = restart(COUNT, timeout=120)
    assert "error" not in result, result
    assert result["reclaimed"] == COUNT
    assert (result["moved"], result["rewrites"], result["events"], result["pool_writes"]) == (0, 0, 0, 0)
    assert result["unexpected"] == []
    assert 0 < result["ready_s"] <= result["settled_s"]


def test_the_service_cache_is_trimmed_as_each_page_arrives(api):
    pages_when_trimmed = []

    def trim(service):
        pages_when_trimmed.append(api.pages_served)
        return slim_service(service)

    informer = Informer(api, SERVICES, lambda *_unused: None, trim)
    informer.list_now()
    assert pages_when_trimmed == [index // 500 + 1 for index in range(COUNT)]
    cached = informer.items()
    assert len(cached) == COUNT
    assert not any("managedFields" in service["metadata"] for service in cached)
