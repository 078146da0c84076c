"""Event messages formatted as MetalLB's (Go's %q), and the field manager of every write (on the wire)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ansible_collections.baremetal.lb.daemons.kube.access import ClusterAccess
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


class _Recorder(BaseHTTPRequestHandler):
    """Answers ``{}`` to everything and records each request's method, path and User-Agent."""

    seen: ClassVar[list[tuple[str, str, str]]] = []

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.command, self.path, self.headers["User-Agent"]))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, format, *args):
        return


@pytest.fixture(scope="module")
def recorder():
    """A plain-HTTP API server on 127.0.0.1 that records what it was asked; its access and log."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ClusterAccess(f"http://127.0.0.1:{server.server_address[1]}", tls=None), _Recorder.seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


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
def test_every_write_names_the_field_manager(recorder, method, query, url):
    access, seen = recorder
    seen.clear()
    KubeApi(access, CONTROLLER_FIELD_MANAGER).request(method, "/api/v1/namespaces/ns/events", query)
    assert seen == [(method, url, "baremetal-lb-controller")]


def test_without_a_field_manager_writes_name_none_and_say_baremetal_lb(recorder):
    access, seen = recorder
    seen.clear()
    KubeApi(access).request("POST", "/api/v1/namespaces/ns/events")
    assert seen == [("POST", "/api/v1/namespaces/ns/events", "baremetal-lb")]
