"""Event messages formatted as MetalLB's (Go's %q), and the field manager of every write."""

import pytest

from ansible_collections.baremetal.lb.daemons.kube.events import go_quote
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import CONTROLLER_FIELD_MANAGER, KubeApi


@pytest.mark.parametrize(
    ("value", "go"),
    [
        ("ns/web", '"ns/web"'),
        (["2001:db8:2::3"], '["2001:db8:2::3"]'),
        (["192.0.2.1", "2001:db8::1"], '["192.0.2.1" "2001:db8::1"]'),
        ([], "[]"),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("tab\there\n", '"tab\\there\\n"'),
        ("\x01\x7f", '"\\x01\\x7f"'),
        ("é€", '"é€"'),
        ("\u200b", '"\\u200b"'),
    ],
)
def test_go_quote_matches_go_percent_q(value, go):
    assert go_quote(value) == go


class FakeClient:
    user_agent = "OpenAPI-Generator/37.0.2/python"

    def __init__(self):
        self.urls = []

    def param_serialize(self, method, url, header_params, body, auth_settings):
        self.urls.append((method, url))
        return method, url, header_params, body, None

    def call_api(self, method, url, headers, body, _request_timeout):
        class Answer:
            status = 200
            reason = "OK"

            def read(self):
                return b"{}"

        return Answer()


@pytest.mark.parametrize(
    ("method", "query", "url"),
    [
        ("POST", None, "/api/v1/namespaces/ns/events?fieldManager=baremetal-lb-controller"),
        ("PATCH", None, "/api/v1/namespaces/ns/events?fieldManager=baremetal-lb-controller"),
        (
            "PUT",
            {"dryRun": "All"},
            "/api/v1/namespaces/ns/events?dryRun=All&fieldManager=baremetal-lb-controller",
        ),
        ("GET", None, "/api/v1/namespaces/ns/events"),
        ("DELETE", None, "/api/v1/namespaces/ns/events"),
    ],
)
def test_every_write_names_the_field_manager(method, query, url):
    client = FakeClient()
    api = KubeApi(client, CONTROLLER_FIELD_MANAGER)
    api.request(method, "/api/v1/namespaces/ns/events", query)
    assert client.urls == [(method, url)]
    assert client.user_agent == "baremetal-lb-controller"


def test_without_a_field_manager_the_client_defaults_apply():
    client = FakeClient()
    KubeApi(client).request("POST", "/api/v1/namespaces/ns/events")
    assert client.urls == [("POST", "/api/v1/namespaces/ns/events")]
    assert client.user_agent.startswith("OpenAPI-Generator")
