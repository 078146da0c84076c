"""Each way the API server can fail to answer is told apart, in one line naming the server."""

from __future__ import annotations

import errno
import json
from types import SimpleNamespace

import pytest
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from ansible_collections.baremetal.lb.plugins.module_utils.api_reach import (
    Attempt,
    missing_kubeconfig_message,
    refused_message,
    retry_delay,
    unreachable_message,
    version_problem,
)

SERVER = "https://203.0.113.250:6443"
PROBE = Attempt(SERVER, "GET", "/version/", 30)


def raised(error: BaseException, cause: BaseException | None = None) -> BaseException:
    """``error`` as urllib3 raises it: with its cause chained."""
    try:
        raise error from cause
    except BaseException as caught:
        return caught


def new_connection(code: int) -> BaseException:
    return raised(NewConnectionError(None, "Failed to establish a new connection"), OSError(code, "x"))


def test_a_blackholed_address_names_server_request_and_timeout():
    error = raised(ConnectTimeoutError(None, "timed out"), TimeoutError("timed out"))
    message = unreachable_message(PROBE, error)
    assert message.startswith("cannot reach the Kubernetes API at https://203.0.113.250:6443 within 30 s: ")
    assert "GET /version got no answer to its TCP connection to 203.0.113.250 port 6443" in message
    assert "\n" not in message


def test_a_refused_connection_is_not_called_a_timeout():
    # urllib3's NewConnectionError is a ConnectTimeoutError subclass; the errno decides.
    message = unreachable_message(PROBE, new_connection(errno.ECONNREFUSED))
    assert "refused, nothing listens on 203.0.113.250 port 6443" in message
    assert "within" not in message


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EHOSTUNREACH])
def test_no_route_is_told_apart(code):
    message = unreachable_message(PROBE, new_connection(code))
    assert "found no route to 203.0.113.250 port 6443" in message


def test_the_cause_is_found_through_max_retry_error():
    wrapped = MaxRetryError(None, "/version", reason=new_connection(errno.ECONNREFUSED))
    assert "refused" in unreachable_message(PROBE, wrapped)


def test_a_read_timeout_says_the_connection_was_accepted():
    message = unreachable_message(PROBE, ReadTimeoutError(None, "/version", "read timed out"))
    assert "accepted the connection but GET /version got no answer within 30 s" in message


def test_a_name_that_does_not_resolve():
    import socket  # noqa: PLC0415 - only this test needs it

    attempt = Attempt("https://api.invalid:6443", "GET", "/version", 30)
    unknown = socket.gaierror(-2, "Name or service not known")
    error = raised(NewConnectionError(None, "Failed to resolve"), unknown)
    assert "the host name 'api.invalid' does not resolve" in unreachable_message(attempt, error)


def test_tls_failure():
    message = unreachable_message(PROBE, SSLError("certificate verify failed"))
    assert message.startswith(f"cannot use the Kubernetes API at {SERVER}: the TLS handshake")


def test_the_default_port_of_the_scheme_is_named():
    attempt = Attempt("https://api.example:443", "GET", "/version", 5)
    assert attempt.host_port == "api.example port 443"
    assert Attempt("http://192.0.2.1", "GET", "/version", 5).host_port == "192.0.2.1 port 80"


def test_a_kubernetes_version_answer_is_accepted():
    body = json.dumps({"major": "1", "minor": "34", "gitVersion": "v1.34.1"}).encode()
    assert version_problem(PROBE, 200, body) is None


def test_a_web_server_that_is_not_kubernetes_is_named_so_without_its_page():
    message = version_problem(PROBE, 404, b"<!DOCTYPE HTML><html><body>Not Found</body></html>")
    assert message == (
        "https://203.0.113.250:6443 is not a Kubernetes API server: GET /version answered 404 with an "
        "HTML page; check the kubeconfig's server or `host` (scheme, address and port)"
    )


def test_a_json_answer_without_git_version_is_not_kubernetes():
    assert "is not a Kubernetes API server" in version_problem(PROBE, 200, b'{"status": "ok"}')


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_come_from_a_kubernetes_server(status):
    assert f"refused the credentials for GET /version ({status})" in version_problem(PROBE, status, b"")


def test_a_missing_kubeconfig_names_the_file_and_its_directory(tmp_path):
    message = missing_kubeconfig_message(str(tmp_path / "kubeconfig.yml"), "kubeconfig", True)
    assert message.startswith(f"kubeconfig: the file 'kubeconfig.yml' does not exist in {tmp_path}")


def test_a_missing_directory_is_named():
    origin = "kubeconfig (from K8S_AUTH_KUBECONFIG)"
    message = missing_kubeconfig_message("/nowhere/kubeconfig", origin, False)
    assert message == (
        "kubeconfig (from K8S_AUTH_KUBECONFIG): the directory /nowhere does not exist, "
        "so neither does the kubeconfig 'kubeconfig'"
    )


def api_error(status: int, body: object, reason: str = "Reason") -> SimpleNamespace:
    """What kubernetes.client.ApiException carries: status, body (the server's Status) and reason."""
    return SimpleNamespace(
        status=status, body=json.dumps(body) if isinstance(body, dict) else body, reason=reason
    )


@pytest.mark.parametrize(
    ("error", "where", "message"),
    [
        (
            api_error(404, {"message": 'namespaces "nope" not found'}),
            "Service nope/web",
            'Service nope/web: the API server refused the request (404): namespaces "nope" not found',
        ),
        (
            api_error(422, {"message": "spec.myASN: Invalid value: must be at most 4294967295"}),
            "",
            "the API server refused the request (422): spec.myASN: Invalid value: must be at most 4294967295",
        ),
        (
            api_error(404, {"message": "the server could not find the requested resource"}),
            "IPAddressPool metallb-system/dmz",
            "IPAddressPool metallb-system/dmz: the metallb.io CRDs are not installed in this cluster; "
            "install them first (role baremetal.lb.install)",
        ),
        (
            api_error(403, "<html>no</html>", reason="Forbidden"),
            "",
            "the API server refused the request (403): Forbidden",
        ),
    ],
)
def test_a_refused_request_says_the_servers_reason_once(error, where, message):
    assert refused_message(error, where) == message


@pytest.mark.parametrize(
    ("status", "retry_after", "retries", "time_left", "delay"),
    [
        (429, "1", 0, 30.0, 1.0),  # the server's wait is taken
        (429, "3", 9, 30.0, 3.0),  # the tenth retry is still made
        (429, None, 0, 30.0, 1.0),  # no header: one second, as client-go waits
        (429, "soon", 0, 30.0, 1.0),  # not a number: one second
        (429, "0", 0, 30.0, 0.0),
        (429, "1", 10, 30.0, None),  # ten retries made: the refusal is reported
        (429, "5", 0, 4.0, None),  # the wait would outlast the request's bound
        (409, "1", 0, 30.0, None),  # a conflict is the caller's to handle
        (500, "1", 0, 30.0, None),  # the server may have acted: not sent twice
        (0, None, 0, 30.0, None),
    ],
    ids=["told", "tenth", "no-header", "garbled", "now", "gave-up", "out-of-time", "409", "500", "no-answer"],
)
def test_only_a_429_is_sent_again_after_the_wait_the_server_asks_within_the_bound(
    status, retry_after, retries, time_left, delay
):
    assert retry_delay(status, retry_after, retries, time_left) == delay
