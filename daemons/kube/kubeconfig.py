"""Read a kubeconfig's current context into :class:`.access.ClusterAccess`, writing no file.

What the daemons accept of a kubeconfig: the cluster's ``server``, ``certificate-authority``
(file or ``-data``), ``insecure-skip-tls-verify``, ``tls-server-name`` and ``proxy-url`` (an
HTTP proxy, through which an ``https`` server is reached by CONNECT); the user's client
certificate and key (files or ``-data``), ``token``, ``tokenFile`` or ``username``/``password``.
Relative file paths are taken from the kubeconfig's directory, as kubectl takes them. A user
that needs a credential plugin (``exec``, ``auth-provider``) is refused with the reason: a
daemon has no one to answer a login prompt; give it a service account token instead.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .access import ClusterAccess, TokenFile, no_token, tls_context

_PLUGINS = ("exec", "auth-provider")


def load(path: str) -> ClusterAccess:
    """Return how to reach the API server of the kubeconfig at ``path`` (its current context).

    Raises ValueError naming the kubeconfig, the entry and the field at fault.
    """
    document: dict[str, Any] = yaml.safe_load(Path(path).read_text()) or {}
    base = Path(path).resolve().parent
    context_name = document.get("current-context")
    if not context_name:
        raise ValueError(f"kubeconfig {path}: current-context is not set")
    context = _named(document, "contexts", "context", context_name, path)
    cluster = _named(document, "clusters", "cluster", context.get("cluster"), path)
    user = _named(document, "users", "user", context.get("user"), path) if context.get("user") else {}
    plugin = next((key for key in _PLUGINS if user.get(key)), None)
    if plugin:
        raise ValueError(
            f"kubeconfig {path}: user {context.get('user')!r} authenticates with {plugin!r}, which "
            "the daemons do not run; give them a token, tokenFile or client certificate instead"
        )
    server = str(cluster.get("server") or "").rstrip("/")
    if not server:
        raise ValueError(f"kubeconfig {path}: cluster {context.get('cluster')!r} has no server")
    tls = None
    if server.startswith("https://"):
        ca = _pem(cluster, "certificate-authority", base)
        tls = tls_context(
            ca_pem=ca.decode() if ca else None,
            insecure=bool(cluster.get("insecure-skip-tls-verify")),
            client_cert_pem=_pem(user, "client-certificate", base),
            client_key_pem=_pem(user, "client-key", base),
        )
    username, password = user.get("username"), user.get("password")
    return ClusterAccess(
        server=server,
        tls=tls,
        token=_token(user, base),
        server_hostname=cluster.get("tls-server-name") or None,
        basic_auth=f"{username}:{password}" if username and password else None,
        proxy=cluster.get("proxy-url") or None,
    )


def _named(document: dict[str, Any], section: str, key: str, name: object, path: str) -> dict[str, Any]:
    for entry in document.get(section) or []:
        if (entry or {}).get("name") == name:
            found: dict[str, Any] = entry.get(key) or {}
            return found
    raise ValueError(f"kubeconfig {path}: {section} has no entry named {name!r}")


def _pem(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    """``entry[key + "-data"]`` decoded, or the file ``entry[key]`` names; None when neither is set."""
    data = entry.get(f"{key}-data")
    if data:
        return base64.b64decode(data)
    name = entry.get(key)
    return (base / name).read_bytes() if name else None


def _token(user: dict[str, Any], base: Path) -> Callable[[], str | None]:
    if user.get("token"):
        token = str(user["token"])
        return lambda: token
    if user.get("tokenFile"):
        return TokenFile(base / user["tokenFile"])
    return no_token
