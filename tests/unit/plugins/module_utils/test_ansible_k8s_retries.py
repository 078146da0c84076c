"""A request the API server refuses with 429 is sent again as the server asks; nothing else is."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kubernetes.client import ApiException

from ansible_collections.baremetal.lb.plugins.module_utils import ansible_k8s

SERVER = "https://203.0.113.250:6443"


def refusal(status: int, retry_after: str | None = "0") -> ApiException:
    """An ApiException as the kubernetes client raises it for an HTTP answer."""
    err = ApiException(status=status, reason="refused")
    err.headers = {} if retry_after is None else {"Retry-After": retry_after}
    return err


class Server:
    """Answers each request with the next of ``answers`` (an exception is raised), counting them."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests = 0

    def request(self, method: str, url: str, *args: object, **kwargs: object) -> object:
        self.requests += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def bounded(server: Server, timeout: float = 5.0) -> SimpleNamespace:
    """An ApiClient stand-in whose requests go to ``server`` through the module's bounds."""
    api = SimpleNamespace(
        rest_client=SimpleNamespace(request=server.request), configuration=SimpleNamespace(host=SERVER)
    )
    ansible_k8s._bound_requests(SimpleNamespace(fail_json=None), api, timeout)
    return api


@pytest.mark.parametrize(
    ("answers", "requests"),
    [
        ([refusal(429), "created"], 2),
        ([refusal(429), refusal(429, None), "created"], 3),
        (["created"], 1),
    ],
    ids=["once", "twice-no-header", "not-refused"],
)
def test_a_429_is_sent_again_until_it_is_answered(answers, requests, monkeypatch):
    monkeypatch.setattr(ansible_k8s.time, "sleep", lambda seconds: None)
    server = Server(*answers)
    assert bounded(server).rest_client.request("POST", f"{SERVER}/api/v1/namespaces") == "created"
    assert server.requests == requests


@pytest.mark.parametrize(
    "answers",
    [
        [refusal(409)],
        [refusal(500)],
        [refusal(429, "60")],  # longer than the request's bound
        [refusal(429)] * 11,  # ten retries, then the refusal is the answer
    ],
    ids=["conflict", "server-error", "wait-too-long", "eleventh"],
)
def test_anything_else_is_raised_to_the_caller_as_it_came(answers, monkeypatch):
    monkeypatch.setattr(ansible_k8s.time, "sleep", lambda seconds: None)
    server = Server(*answers)
    with pytest.raises(ApiException) as raised:
        bounded(server).rest_client.request("POST", f"{SERVER}/api/v1/namespaces")
    assert raised.value is answers[-1]
    assert server.requests == len(answers)
