"""The modules' client resends a request the real API server refuses with 429, as the server asks.

A real 429 on demand: the API server refuses to evict a pod while a PodDisruptionBudget allows
no disruption (``TooManyRequests``, no Retry-After), and serves the same request once the budget
is gone. The client is the one every module builds (:func:`.ansible_k8s.api_client`, from the
lab's kubeconfig); what the server answered is read off the client's connection pool, so the
test sees the real responses, not the retry code's view of them.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest
from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils import ansible_k8s
from ansible_collections.baremetal.lb.plugins.module_utils.api_reach import DEFAULT_RETRY_AFTER
from lab import workloads
from lab.state import LabState
from tests.lab.controller_harness import wait_for

APP = "evictee"


@dataclass(frozen=True)
class Answer:
    """One HTTP answer the server gave the client: when it arrived, its status, its Retry-After."""

    at: float
    status: int
    retry_after: str | None


class ModuleStandIn:
    """What :func:`.ansible_k8s.api_client` reads of a module: its parameters and ``fail_json``."""

    def __init__(self, kubeconfig: str, request_timeout: int) -> None:
        self.params = {"kubeconfig": kubeconfig, "request_timeout": request_timeout}

    def fail_json(self, **result: Any) -> None:
        raise AssertionError(f"the module failed: {result['msg']}")


def recorded(api: client.ApiClient) -> list[Answer]:
    """Record every answer ``api``'s connection pool gets from the server, eviction requests only."""
    answers: list[Answer] = []
    pool = api.rest_client.pool_manager
    send = pool.request

    def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        response = send(method, url, *args, **kwargs)
        if url.endswith("/eviction"):
            answers.append(Answer(time.monotonic(), response.status, response.headers.get("Retry-After")))
        return response

    pool.request = request
    return answers


@pytest.fixture()
def protected_pod(kube: client.ApiClient, namespace: str) -> str:
    """A Ready pod of a one-replica Deployment under a PodDisruptionBudget that allows no eviction."""
    client.AppsV1Api(kube).create_namespaced_deployment(
        namespace, workloads.deployment(APP, namespace=namespace, replicas=1)
    )
    core, policy = client.CoreV1Api(kube), client.PolicyV1Api(kube)
    budget = {
        "metadata": {"name": APP},
        "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": APP}}},
    }
    policy.create_namespaced_pod_disruption_budget(namespace, budget)

    def ready_pod() -> str | None:
        for pod in core.list_namespaced_pod(namespace, label_selector=f"app={APP}").items:
            conditions = pod.status.conditions or []
            if any(c.type == "Ready" and c.status == "True" for c in conditions):
                return str(pod.metadata.name)
        return None

    def budget_holds() -> bool:
        status = policy.read_namespaced_pod_disruption_budget(APP, namespace).status
        return bool(
            status
            and status.observed_generation
            and status.current_healthy == 1
            and status.disruptions_allowed == 0
        )

    name = wait_for(f"a Ready pod of deployment {namespace}/{APP}", ready_pod, timeout=90, interval=0.5)
    wait_for(
        f"PodDisruptionBudget {namespace}/{APP} to count the pod and allow 0 disruptions",
        budget_holds,
        timeout=30,
    )
    return str(name)


def module_client(lab: LabState, request_timeout: int) -> tuple[client.CoreV1Api, list[Answer]]:
    """The modules' client of the lab (admin), and the answers it will get to evictions."""
    api = ansible_k8s.api_client(ModuleStandIn(str(lab.kubeconfig), request_timeout))
    return client.CoreV1Api(api), recorded(api)


def eviction(pod: str, namespace: str) -> dict[str, Any]:
    """An Eviction of ``pod``."""
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}


def waited_as_asked(answers: list[Answer]) -> list[tuple[float, float]]:
    """For each resend: (seconds waited, seconds the refusal before it asked for)."""
    return [
        (later.at - refusal.at, float(refusal.retry_after or DEFAULT_RETRY_AFTER))
        for refusal, later in itertools.pairwise(answers)
    ]


def test_a_refused_eviction_is_sent_again_until_the_budget_allows_it(lab, kube, namespace, protected_pod):
    core, answers = module_client(lab, request_timeout=30)
    outcome: dict[str, Any] = {}

    def evict() -> None:
        try:
            outcome["result"] = core.create_namespaced_pod_eviction(
                protected_pod, namespace, eviction(protected_pod, namespace)
            )
        except Exception as error:  # reported by the assertions below
            outcome["error"] = error

    evicting = threading.Thread(target=evict, daemon=True)
    evicting.start()
    wait_for("the API server's first 429 to the eviction", lambda: answers, timeout=10)
    assert answers[0].status == 429
    client.PolicyV1Api(kube).delete_namespaced_pod_disruption_budget(APP, namespace)
    evicting.join(timeout=30)

    assert not evicting.is_alive(), "the eviction did not finish within 30 s of the budget's removal"
    assert "error" not in outcome, str(outcome.get("error"))
    statuses = [answer.status for answer in answers]
    assert statuses[-1] == 201 and set(statuses[:-1]) == {429}, statuses
    assert all(waited >= asked for waited, asked in waited_as_asked(answers)), waited_as_asked(answers)
    wait_for(
        f"pod {namespace}/{protected_pod} to be deleted",
        lambda: (
            protected_pod
            not in {p.metadata.name for p in client.CoreV1Api(kube).list_namespaced_pod(namespace).items}
        ),
        timeout=30,
    )


def test_a_refusal_that_outlasts_request_timeout_is_reported(lab, namespace, protected_pod):
    request_timeout = 3
    core, answers = module_client(lab, request_timeout=request_timeout)
    began = time.monotonic()

    with pytest.raises(client.ApiException) as refused:
        core.create_namespaced_pod_eviction(protected_pod, namespace, eviction(protected_pod, namespace))

    took = time.monotonic() - began
    assert refused.value.status == 429
    assert [answer.status for answer in answers] == [429] * len(answers)
    assert len(answers) >= request_timeout - 1, answers  # resent about once a second, as asked
    assert took < request_timeout + 1, f"gave up after {took:.1f}s, past request_timeout {request_timeout}s"
    assert all(waited >= asked for waited, asked in waited_as_asked(answers)), waited_as_asked(answers)
