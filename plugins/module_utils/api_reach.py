"""Why the Kubernetes API could not be used, in one line that names the server and what was tried.

Pure logic: the caller (:mod:`.ansible_k8s`) makes the requests and hands the error or the answer
here. Every message starts with the API server's address, so a playbook's failure says which
cluster it could not use; none carries a client traceback. One refusal is not final: a 429 is
worth sending again, when and how often :func:`retry_delay` says.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

try:
    from urllib3 import exceptions as urllib3_errors
except ImportError:  # modules report the missing kubernetes library (which brings urllib3) first
    urllib3_errors = None  # type: ignore[assignment]

_NO_ROUTE = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EADDRNOTAVAIL: "no local address to reach it from",
}
# What the probe asks: every Kubernetes API server answers it (also to anonymous users by default).
VERSION_PATH = "/version"


@dataclass(frozen=True)
class Attempt:
    """One request to the API server: where to, what, and how long it could take."""

    server: str
    method: str
    path: str
    timeout: float

    @property
    def host_port(self) -> str:
        """``host port N`` of the server URL, with the scheme's default port when none is given."""
        parts = urlsplit(self.server)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname} port {port}"

    @property
    def what(self) -> str:
        """The request, e.g. ``GET /version``."""
        return f"{self.method} {(urlsplit(self.path).path or self.path).rstrip('/') or '/'}"


def unreachable_message(attempt: Attempt, error: BaseException) -> str:
    """One line for a request that got no HTTP answer (timeout, refused, no route, DNS, TLS)."""
    where = f"the Kubernetes API at {attempt.server}"
    causes = list(_causes(error))
    socket_error = _socket_error(attempt, causes)
    if socket_error:
        return f"cannot reach {where}: {socket_error}"
    seconds = f"{attempt.timeout:g} s"
    if _any(causes, "ConnectTimeoutError"):
        return (
            f"cannot reach {where} within {seconds}: {attempt.what} got no answer to its TCP "
            f"connection to {attempt.host_port} (packets dropped: a firewall, or a host that is down; "
            "request_timeout sets how long to wait)"
        )
    if _any(causes, "ReadTimeoutError") or any(isinstance(c, TimeoutError) for c in causes):
        return (
            f"{where} accepted the connection but {attempt.what} got no answer within {seconds} "
            "(an overloaded API server or a proxy that holds requests; request_timeout sets how long to wait)"
        )
    if _any(causes, "SSLError"):
        return f"cannot use {where}: the TLS handshake for {attempt.what} failed ({_last_words(causes)})"
    return f"cannot reach {where}: {attempt.what} failed ({_last_words(causes)})"


def _socket_error(attempt: Attempt, causes: list[BaseException]) -> str | None:
    """What a connection that failed at once says: no such name, refused, or no route; else None.

    Checked before timeouts: urllib3's NewConnectionError is a ConnectTimeoutError subclass.
    """
    if _any(causes, "NameResolutionError") or any(type(c).__name__ == "gaierror" for c in causes):
        return f"the host name {urlsplit(attempt.server).hostname!r} does not resolve"
    code = _errno(causes)
    if code == errno.ECONNREFUSED:
        return (
            f"{attempt.what} was refused, nothing listens on {attempt.host_port} "
            "(is the API server running, and are the kubeconfig's server or `host` right?)"
        )
    if code in _NO_ROUTE:
        return (
            f"{attempt.what} found no route to {attempt.host_port} "
            f"({_NO_ROUTE[code]}; is this machine on the cluster's network?)"
        )
    return None


def version_problem(attempt: Attempt, status: int, body: bytes) -> str | None:
    """None when ``status`` and ``body`` are a Kubernetes ``/version`` answer, else why not, in one line.

    A 401 or 403 comes from an API server that wants other credentials; anything else that is
    not a JSON object with ``gitVersion`` is some other web server.
    """
    where = f"the Kubernetes API at {attempt.server}"
    if status in (401, 403):
        return (
            f"{where} refused the credentials for {attempt.what} ({status}); check the kubeconfig's user, "
            "api_key or client certificate"
        )
    if status == 200 and "gitVersion" in _json_object(body):
        return None
    return (
        f"{attempt.server} is not a Kubernetes API server: {attempt.what} answered {status}"
        f"{_body_hint(body)}; check the kubeconfig's server or `host` (scheme, address and port)"
    )


def refused_message(error: Any, where: str = "") -> str:
    """One line for a request the API server answered with an error (``kubernetes.client.ApiException``).

    The API server's own message, so CEL rule messages come through verbatim; a 404 for a
    resource type the server does not know says the metallb.io CRDs are missing. ``where``
    (``Service shop/web``) starts the line when given.
    """
    try:
        message = json.loads(error.body).get("message") or error.reason
    except (TypeError, ValueError, AttributeError):
        message = error.reason
    prefix = f"{where}: " if where else ""
    if error.status == 404 and "the server could not find the requested resource" in str(message):
        return (
            f"{prefix}the metallb.io CRDs are not installed in this cluster; "
            "install them first (role baremetal.lb.install)"
        )
    return f"{prefix}the API server refused the request ({error.status}): {message}"


# The API server answers 429 while it cannot take a request yet (a new CRD's storage still
# initializing, or API priority and fairness shedding load) and says when to come back; client-go
# (kubectl) waits as told and retries up to ten times, and so do this collection's modules.
TOO_MANY_REQUESTS = 429
MAX_RETRIES = 10
DEFAULT_RETRY_AFTER = 1.0


def retry_delay(status: int, retry_after: str | None, retries: int, time_left: float) -> float | None:
    """Seconds to wait before sending a refused request again, or None to give up and report it.

    Only a 429 is retried (the server did not act on the request, so any verb may be resent);
    ``retry_after`` is the answer's Retry-After header (whole seconds, 1 when missing or not a
    number), ``retries`` how many were made already, ``time_left`` what remains of the request's
    time bound: a wait that would not fit is not started.
    """
    if status != TOO_MANY_REQUESTS or retries >= MAX_RETRIES:
        return None
    try:
        delay = max(0.0, float(retry_after)) if retry_after is not None else DEFAULT_RETRY_AFTER
    except ValueError:
        delay = DEFAULT_RETRY_AFTER
    return delay if delay < time_left else None


def missing_kubeconfig_message(path: str, origin: str, directory_exists: bool) -> str:
    """One line for a kubeconfig path that names no file.

    The path is named as its directory and file name: Ansible masks the whole value of the
    kubeconfig option (it may be a secret dict) wherever it appears in a result.
    """
    directory, name = os.path.split(os.path.abspath(path))
    if directory_exists:
        return (
            f"{origin}: the file {name!r} does not exist in {directory}; give the path of a kubeconfig "
            "file (or leave it out to use ~/.kube/config)"
        )
    return f"{origin}: the directory {directory} does not exist, so neither does the kubeconfig {name!r}"


def _causes(error: BaseException | None) -> Iterator[BaseException]:
    """The error, what it wraps (urllib3's ``reason``) and what caused it, outermost first."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        reason = getattr(error, "reason", None)
        error = reason if isinstance(reason, BaseException) else (error.__cause__ or error.__context__)


def _any(causes: list[BaseException], *names: str) -> bool:
    """Whether a cause is an instance of a urllib3 exception of one of ``names``."""
    return any(type(c).__name__ == name or _is_urllib3(c, name) for c in causes for name in names)


def _is_urllib3(error: BaseException, name: str) -> bool:
    cls = getattr(urllib3_errors, name, None) if urllib3_errors is not None else None
    return cls is not None and isinstance(error, cls)


def _errno(causes: list[BaseException]) -> int | None:
    for cause in causes:
        code = getattr(cause, "errno", None)
        if isinstance(cause, OSError) and isinstance(code, int) and code > 0:
            return code
    return None


def _last_words(causes: list[BaseException]) -> str:
    innermost = causes[-1]
    text = str(innermost).strip() or type(innermost).__name__
    return " ".join(text.split())


def _json_object(body: bytes) -> dict[str, object]:
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def _body_hint(body: bytes) -> str:
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    if not text:
        return ""
    if text.startswith("<"):
        return " with an HTML page"
    return f" ({text[:80]!r})"
