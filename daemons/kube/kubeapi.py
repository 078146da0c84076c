"""Plain-JSON access to the Kubernetes API: requests, paginated lists and watch streams.

The generated models of the ``kubernetes`` client cost milliseconds per object to build, and
importing them costs every process ~18 MB: the daemons work on plain dicts over one urllib3
connection pool, with the server and credentials :mod:`.access` reads.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3
from urllib3.exceptions import ReadTimeoutError

from . import kubeconfig as kubeconfig_file
from .access import ClusterAccess, in_cluster

JSON = dict[str, Any]

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"

CONTROLLER_FIELD_MANAGER = "baremetal-lb-controller"
"""The field manager (and User-Agent) of the controller's writes, as managedFields show it."""

SPEAKER_FIELD_MANAGER = "baremetal-lb-speaker"
"""The field manager (and User-Agent) of the speaker's writes."""

_WRITES = frozenset({"POST", "PUT", "PATCH"})

WATCH_IDLE_SECONDS = 90.0
"""A watch that brings no byte for this long is dead (a hung server, a black-holing network):
the API server sends a bookmark about every minute, even when nothing changes."""

_ANSWER_SECONDS = 10.0
"""How long a watch request may wait for the answer's headers (the API server sends them at once)."""

_RETRIES = urllib3.Retry(total=3, connect=3, read=0, redirect=0, status=0)
"""urllib3 retries only a connection it could not open; a request that got no answer (a read
timeout, a dropped connection) fails at once, so the caller's backoff and log see every one,
instead of urllib3 silently waiting out three more timeouts."""


class WatchSilentError(Exception):
    """A watch brought nothing, not even a bookmark, for :data:`WATCH_IDLE_SECONDS`."""


class ApiError(Exception):
    """A request the API server refused or could not answer; ``status`` is the HTTP status."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        self.status = status
        self.reason = reason
        self.body = body
        super().__init__(f"HTTP {status} {reason}: {body[:300]}")

    @property
    def conflict(self) -> bool:
        """True for 409: someone else changed the object first."""
        return self.status == 409

    @property
    def gone(self) -> bool:
        """True for 410: the resourceVersion is too old to watch from."""
        return self.status == 410

    @property
    def not_found(self) -> bool:
        """True for 404."""
        return self.status == 404


@dataclass(frozen=True)
class Resource:
    """A collection on the API server: ``/api/v1/services``, or a CRD's plural in one namespace."""

    api_path: str
    plural: str
    namespace: str | None = None

    def collection(self) -> str:
        """Return the URL path of the collection (cluster-wide when no namespace is set)."""
        if self.namespace:
            return f"{self.api_path}/namespaces/{self.namespace}/{self.plural}"
        return f"{self.api_path}/{self.plural}"

    def item(self, namespace: str, name: str, subresource: str = "") -> str:
        """Return the URL path of one object (and optionally one of its subresources)."""
        path = f"{self.api_path}/namespaces/{namespace}/{self.plural}/{name}"
        return f"{path}/{subresource}" if subresource else path


SERVICES = Resource("/api/v1", "services")
NAMESPACES = Resource("/api/v1", "namespaces")
EVENTS = Resource("/api/v1", "events")


class KubeApi:
    """A thin JSON client of one API server over a pool of keep-alive connections.

    With a ``field_manager`` every create, update and patch names it (the ``fieldManager``
    query parameter) and every request carries it as User-Agent, so managedFields and the API
    server's audit log say which daemon wrote what.
    """

    def __init__(self, access: ClusterAccess, field_manager: str | None = None, pool_size: int = 16) -> None:
        self._access = access
        self._field_manager = field_manager
        self._headers = {
            "Accept": "application/json",
            "User-Agent": field_manager or "baremetal-lb",
        }
        if access.basic_auth:
            self._headers.update(urllib3.make_headers(basic_auth=access.basic_auth))
        pool_options: dict[str, Any] = {"maxsize": pool_size, "retries": _RETRIES}
        if access.tls is not None:
            pool_options["ssl_context"] = access.tls
            if access.server_hostname:
                pool_options["server_hostname"] = access.server_hostname
            if access.tls.verify_mode == ssl.CERT_NONE:  # insecure-skip-tls-verify
                pool_options.update(cert_reqs=ssl.CERT_NONE, assert_hostname=False)
                log.warning(
                    "the API server's certificate at %s is not checked (insecure-skip-tls-verify)",
                    access.server,
                )
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # said once, above
        self._pool = (
            urllib3.ProxyManager(access.proxy, **pool_options)
            if access.proxy
            else urllib3.PoolManager(**pool_options)
        )

    @classmethod
    def connect(
        cls, kubeconfig: str | None, pool_size: int = 16, field_manager: str | None = None
    ) -> KubeApi:
        """Connect with ``kubeconfig``, or with the in-cluster service account when it is None.

        Nothing is written to the filesystem either way (see :mod:`.access`), so the daemons
        run on a read-only root.
        """
        access = kubeconfig_file.load(kubeconfig) if kubeconfig else in_cluster()
        return cls(access, field_manager, pool_size)

    def request(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None = None,
        *,
        body: JSON | None = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> JSON:
        """Send one request and return the decoded JSON answer; raise :class:`ApiError` on failure."""
        if self._field_manager and method in _WRITES:
            query = {**(query or {}), "fieldManager": self._field_manager}
        response = self._send(method, path, query, body=body, content_type=content_type, timeout=timeout)
        data = response.data
        if not 200 <= response.status <= 299:
            raise ApiError(response.status, str(response.reason), data.decode(errors="replace"))
        decoded: JSON = json.loads(data) if data else {}
        return decoded

    def list_all(
        self, resource: Resource, page_size: int = 500, transform: Callable[[JSON], JSON] | None = None
    ) -> tuple[list[JSON], str]:
        """List every object of ``resource`` page by page; return them and the list's resourceVersion.

        ``transform`` is applied to each object as its page arrives, so a cache that keeps a part
        of each object never holds every whole object at once: the peak is one page of whole
        objects, not the collection (100,000 Services listed whole are ~0.8 GB).
        """
        items: list[JSON] = []
        query: dict[str, str | int] = {"limit": page_size}
        while True:
            page = self.request("GET", resource.collection(), query, timeout=120)
            listed = page.pop("items", None) or []
            items += map(transform, listed) if transform else listed
            del listed  # a page's whole objects go before the next page arrives
            token = page["metadata"].get("continue")
            if not token:
                return items, str(page["metadata"]["resourceVersion"])
            query["continue"] = token

    def watch(
        self,
        resource: Resource,
        resource_version: str,
        timeout_seconds: int = 300,
        idle_seconds: float = WATCH_IDLE_SECONDS,
    ) -> Iterator[JSON]:
        """Yield watch events ``{"type", "object"}`` after ``resource_version`` until the server ends it.

        An ``ERROR`` event carrying 410 Gone is raised as :class:`ApiError` so the caller relists.
        A stream silent for ``idle_seconds`` raises :class:`WatchSilentError`: the connection is
        dead even if TCP does not say so, and the caller resumes on a new one.
        """
        query: dict[str, str | int] = {
            "watch": "true",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": timeout_seconds,
        }
        response = self._send(
            "GET",
            resource.collection(),
            query,
            body=None,
            content_type="application/json",
            timeout=(_ANSWER_SECONDS, _ANSWER_SECONDS),
            stream=True,
        )
        try:
            if not 200 <= response.status <= 299:
                raise ApiError(
                    response.status, str(response.reason), response.read().decode(errors="replace")
                )
            _set_read_timeout(response, idle_seconds)
            buffer = b""
            try:
                for chunk in response.stream(65536, decode_content=True):
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        if line.strip():
                            yield _checked_event(json.loads(line))
            except ReadTimeoutError as silent:
                raise WatchSilentError(f"no event or bookmark for {idle_seconds:.0f}s") from silent
        finally:
            response.release_conn()

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str | int] | None,
        *,
        body: JSON | None,
        content_type: str,
        timeout: float | tuple[float, float],
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        url = self._access.server + path + ("?" + urlencode(query) if query else "")
        headers = {**self._headers, "Content-Type": content_type}
        token = self._access.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        limit = (
            urllib3.Timeout(connect=timeout[0], read=timeout[1])
            if isinstance(timeout, tuple)
            else urllib3.Timeout(total=timeout)
        )
        return self._pool.request(
            method,
            url,
            body=None if body is None else json.dumps(body).encode(),
            headers=headers,
            timeout=limit,
            redirect=False,
            preload_content=not stream,
        )


def _set_read_timeout(raw: Any, seconds: float) -> None:
    """Let each read of an open answer's body wait ``seconds`` (the headers came in time)."""
    sock = getattr(getattr(raw, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _checked_event(event: JSON) -> JSON:
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        raise ApiError(int(status.get("code") or 500), str(status.get("reason")), str(status.get("message")))
    return event
