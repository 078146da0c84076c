"""The daemons load a kubeconfig without writing to the filesystem, so they run on a read-only root.

A real mutual-TLS server (the lab's PKI: CA, serving certificate, admin client certificate)
answers on 127.0.0.1; the daemons' client connects with a kubeconfig whose certificates are
embedded (``*-data``) or named as files, while every way the ``kubernetes`` client has to make a
temp file fails as on a read-only root.
"""

from __future__ import annotations

import base64
import json
import ssl
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from lab import pki


class _Version(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer = self.connection.getpeercert() or {}  # type: ignore[attr-defined]
        subject = dict(pair[0] for pair in peer.get("subject", ()))
        body = json.dumps({"path": self.path, "client": subject.get("commonName")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server that insists on a client certificate from the CA; its URL and PKI dir."""
    pki_dir = tmp_path_factory.mktemp("pki")
    pki.create(pki_dir, ["localhost"], ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki_dir / "apiserver.crt", pki_dir / "apiserver.key")
    context.load_verify_locations(pki_dir / "ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Version)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", pki_dir
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _kubeconfig(server: str, pki_dir: Path, embedded: bool) -> dict[str, Any]:
    if embedded:
        cluster = {"server": server, "certificate-authority-data": _b64(pki_dir / "ca.crt")}
        user = {
            "client-certificate-data": _b64(pki_dir / "admin.crt"),
            "client-key-data": _b64(pki_dir / "admin.key"),
        }
    else:  # paths relative to the kubeconfig's directory, as kubectl reads them
        cluster = {"server": server, "certificate-authority": "pki/ca.crt"}
        user = {"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }


@pytest.fixture()
def read_only_temp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every temp file fails as it does on a read-only root filesystem."""

    def refuse(*_args: object, **_kwargs: object) -> Any:
        raise OSError(30, "Read-only file system")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, refuse)


@pytest.mark.parametrize("embedded", [True, False], ids=["certificates embedded", "certificate files"])
def test_connects_with_client_certificates_without_temp_files(tls_server, tmp_path, read_only_temp, embedded):
    server, pki_dir = tls_server
    (tmp_path / "pki").symlink_to(pki_dir)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_kubeconfig(server, pki_dir, embedded)))

    answer = KubeApi.connect(str(path)).request("GET", "/version")

    assert answer == {"path": "/version", "client": "lab-admin"}


def test_embedded_certificates_live_in_memory_not_on_disk(tls_server, tmp_path, read_only_temp):
    server, pki_dir = tls_server
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(_kubeconfig(server, pki_dir, embedded=True)))

    api = KubeApi.connect(str(path))

    configuration = api._client.configuration
    files = [configuration.ssl_ca_cert, configuration.cert_file, configuration.key_file]
    assert all(name.startswith("/proc/self/fd/") for name in files), files
    assert Path(configuration.cert_file).read_bytes() == (pki_dir / "admin.crt").read_bytes()
