"""A module that cannot use the Kubernetes API fails at once, in one line that says why.

Each case runs `lb_info` inside a namespace of its own: a route to a documentation address whose
packets go nowhere (a gateway whose MAC no one has), an unreachable route, a port nobody listens
on, a web server that is not Kubernetes, and a kubeconfig path that names no file.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from lab import netns
from tests.ansible_module import run_module
from tests.netns.conftest import wait_for

BLACKHOLED = "203.0.113.250"
NO_ROUTE = "198.51.100.7"
TIMEOUT = 3


@pytest.fixture()
def isolated() -> Iterator[str]:
    """A namespace with loopback, a route to BLACKHOLED that drops, and an unreachable NO_ROUTE."""
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root: run the suite as root (make test does)")
    name = f"bmlbt-{secrets.token_hex(3)}-api"
    try:
        netns.create(name)
        netns.ip("link", "add", "bh0", "type", "veth", "peer", "name", "bh1", netns=name)
        for link in ("bh0", "bh1"):
            netns.set_link(name, link, up=True)
        netns.add_address(name, "bh0", "203.0.113.1/24")
        # the gateway's MAC belongs to no one: frames leave bh0 and bh1 drops them, unanswered
        netns.ip("neigh", "replace", "203.0.113.254", "lladdr", "02:00:00:00:00:fe", "dev", "bh0",
                 "nud", "permanent", netns=name)  # fmt: skip
        netns.add_route(name, f"{BLACKHOLED}/32", via="203.0.113.254")
        netns.ip("route", "add", "unreachable", "198.51.100.0/24", netns=name)
        yield name
    finally:
        netns.delete(name)


def kubeconfig(tmp_path: Path, server: str) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": True}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


def test_a_blackholed_api_server_fails_within_the_request_timeout(isolated, tmp_path):
    config = kubeconfig(tmp_path, f"https://{BLACKHOLED}:6443")
    run = run_module("lb_info", {"kubeconfig": str(config), "request_timeout": TIMEOUT}, netns=isolated)
    assert run.failed
    assert run.msg.startswith(
        f"cannot reach the Kubernetes API at https://{BLACKHOLED}:6443 within {TIMEOUT} s: "
    )
    assert f"GET /version got no answer to its TCP connection to {BLACKHOLED} port 6443" in run.msg
    assert "\n" not in run.msg
    # ansible's own start-up takes a few seconds on a busy machine; the request itself took TIMEOUT
    assert run.seconds < TIMEOUT + 15, f"took {run.seconds:.1f} s"


def test_the_request_timeout_comes_from_k8s_auth_request_timeout(isolated, tmp_path):
    config = kubeconfig(tmp_path, f"https://{BLACKHOLED}:6443")
    run = run_module(
        "lb_info", {"kubeconfig": str(config)}, netns=isolated, env={"K8S_AUTH_REQUEST_TIMEOUT": "2"}
    )
    assert "within 2 s" in run.msg, run.msg


def test_no_route_is_a_plain_message(isolated, tmp_path):
    config = kubeconfig(tmp_path, f"https://{NO_ROUTE}:6443")
    run = run_module("lb_info", {"kubeconfig": str(config)}, netns=isolated)
    assert run.msg.startswith(
        f"cannot reach the Kubernetes API at https://{NO_ROUTE}:6443: GET /version found no route to "
        f"{NO_ROUTE} port 6443 ("
    )
    assert run.msg.endswith(" unreachable; is this machine on the cluster's network?)")


def test_a_refused_connection_is_a_plain_message(isolated, tmp_path):
    run = run_module(
        "lb_info", {"kubeconfig": str(kubeconfig(tmp_path, "https://127.0.0.1:6443"))}, netns=isolated
    )
    assert run.msg.startswith(
        "cannot reach the Kubernetes API at https://127.0.0.1:6443: GET /version was refused, "
        "nothing listens on 127.0.0.1 port 6443"
    )


def test_a_web_server_that_is_not_kubernetes_is_named_without_a_traceback(isolated, tmp_path):
    server = subprocess.Popen(
        ["ip", "netns", "exec", isolated, sys.executable, "-m", "http.server", "8080", "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            "the web server in the namespace",
            lambda: "127.0.0.1:8080" in netns.exec_in(isolated, ["ss", "-Htln"]),
            timeout=10,
        )
        run = run_module(
            "lb_info", {"kubeconfig": str(kubeconfig(tmp_path, "http://127.0.0.1:8080"))}, netns=isolated
        )
    finally:
        netns.kill_pids([server.pid])
        server.wait(timeout=10)
    assert run.msg == (
        "http://127.0.0.1:8080 is not a Kubernetes API server: GET /version answered 404 with an HTML page; "
        "check the kubeconfig's server or `host` (scheme, address and port)"
    )
    assert "Traceback" not in run.output


def test_a_wrong_kubeconfig_path_is_named(isolated, tmp_path):
    run = run_module("lb_info", {"kubeconfig": str(tmp_path / "nope.yml")}, netns=isolated)
    assert run.msg.startswith(f"kubeconfig: the file 'nope.yml' does not exist in {tmp_path}")


def test_a_wrong_kubeconfig_from_the_environment_is_named(isolated, tmp_path):
    run = run_module(
        "lb_info", {}, netns=isolated, env={"K8S_AUTH_KUBECONFIG": "/nonexistent-dir/kubeconfig"}
    )
    assert run.msg == (
        "kubeconfig (from K8S_AUTH_KUBECONFIG): the directory /nonexistent-dir does not exist, "
        "so neither does the kubeconfig 'kubeconfig'"
    )
