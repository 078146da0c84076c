"""Where the API server is and how to prove who we are: a server URL, TLS and a bearer token.

The daemons speak plain JSON over one urllib3 pool (:mod:`.kubeapi`); this is all they need of
a kubeconfig or of a pod's service account. Not importing the ``kubernetes`` client package
keeps its generated models (~18 MB a process, measured at import) out of every daemon.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
"""Where the kubelet mounts a pod's service account token and the cluster's CA."""

TOKEN_REREAD_SECONDS = 60.0
"""How often a token file is read again: the kubelet rotates bound service account tokens
(hourly by default) in place, and client-go re-reads them on the same minute."""


def no_token() -> str | None:
    """The token of a client that authenticates by certificate alone."""
    return None


@dataclass(frozen=True)
class ClusterAccess:
    """How to reach one API server: its URL, the TLS to use, and the bearer token of each request."""

    server: str
    """``https://host:port`` (no trailing slash)."""
    tls: ssl.SSLContext | None
    """None for a plain-HTTP server."""
    token: Callable[[], str | None] = no_token
    """Called for every request (a rotating token file is read again when due)."""
    server_hostname: str | None = None
    """The name to verify the server's certificate against, when it is not the URL's host."""
    basic_auth: str | None = field(default=None, repr=False)
    """``user:password`` of a kubeconfig that still uses basic authentication."""
    proxy: str | None = None
    """An HTTP proxy to reach the server through (a kubeconfig's ``proxy-url``)."""


class TokenFile:
    """A bearer token read from a file, and read again every :data:`TOKEN_REREAD_SECONDS`."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._token = self._read()
        self._read_at = clock()

    def __call__(self) -> str | None:
        """Return the token, from the file again once the last read is a minute old."""
        with self._lock:
            if self._clock() - self._read_at >= TOKEN_REREAD_SECONDS:
                with suppress(OSError):  # keep the last good token; the API server says if it expired
                    self._token = self._read()
                self._read_at = self._clock()
            return self._token

    def _read(self) -> str:
        return self._path.read_text().strip()


def tls_context(
    ca_file: str | None = None,
    ca_pem: str | None = None,
    insecure: bool = False,
    client_cert_pem: bytes | None = None,
    client_key_pem: bytes | None = None,
) -> ssl.SSLContext:
    """A client TLS context trusting ``ca_*`` (the system store when neither is given).

    It presents the client certificate when one is given. The certificate and key are loaded
    from anonymous in-memory files (``memfd_create``), as :mod:`ssl` loads them only from paths:
    nothing is written to the filesystem, so the daemons run on a read-only root. The context
    keeps what it loaded; the files close at once.
    """
    context = ssl.create_default_context(cafile=ca_file, cadata=ca_pem)
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert_pem is not None and client_key_pem is not None:
        with (
            _memory_file("client-certificate", client_cert_pem) as cert,
            _memory_file("client-key", client_key_pem) as key,
        ):
            context.load_cert_chain(cert, key)
    return context


def in_cluster(directory: Path = SERVICE_ACCOUNT_DIR, environ: dict[str, str] | None = None) -> ClusterAccess:
    """Access as the pod's service account.

    The API server is the one the kubelet names in the environment; the CA and the (rotating)
    token are the ones it mounts in ``directory``.
    """
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ValueError(
            "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set: not running in a pod; "
            "give the daemon --kubeconfig"
        )
    if ":" in host:
        host = f"[{host}]"
    return ClusterAccess(
        server=f"https://{host}:{port}",
        tls=tls_context(ca_file=str(directory / "ca.crt")),
        token=TokenFile(directory / "token"),
    )


@contextmanager
def _memory_file(name: str, data: bytes) -> Iterator[str]:
    """An anonymous in-memory file holding ``data``; yields its ``/proc/self/fd`` path."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        os.write(fd, data)
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)
