"""The daemons reach the API server as a kubeconfig or a pod's service account says, writing no file.

A real TLS server (the lab's PKI: CA, serving certificate, admin client certificate) answers on
127.0.0.1 and echoes who it saw; the daemons' client connects with a kubeconfig whose
certificates are embedded (``*-data``) or named as files, or with a bearer token, while every
way to make a temp file fails as on a read-only root.
"""

from __future__ import annotations

import base64
import json
import select
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import urllib3
import yaml

from ansible_collections.baremetal.lb.daemons.kube import access, kubeconfig
from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from lab import pki


class _Version(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        peer = self.connection.getpeercert() or {}  # type: ignore[attr-defined]
        subject = dict(pair[0] for pair in peer.get("subject", ()))
        answer = {"path": self.path, "client": subject.get("commonName")}
        if self.headers.get("Authorization"):
            answer["authorization"] = self.headers["Authorization"]
        body = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An HTTPS server that checks any client certificate against the CA; its URL and PKI dir."""
    pki_dir = tmp_path_factory.mktemp("pki")
    pki.create(pki_dir, ["localhost"], ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki_dir / "apiserver.crt", pki_dir / "apiserver.key")
    context.load_verify_locations(pki_dir / "ca.crt")
    context.verify_mode = ssl.CERT_OPTIONAL  # a token user presents no certificate
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


def _write(tmp_path: Path, document: dict[str, Any]) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return str(path)


@pytest.mark.parametrize(
    ("user", "files", "authorization"),
    [
        ({"token": "t0ken"}, {}, "Bearer t0ken"),
        ({"tokenFile": "sa-token"}, {"sa-token": "from-file\n"}, "Bearer from-file"),
        ({"username": "ada", "password": "s3cret"}, {}, "Basic YWRhOnMzY3JldA=="),
    ],
    ids=["token", "tokenFile", "basic"],
)
def test_a_credential_user_sends_its_credential(
    tls_server, tmp_path, read_only_temp, user, files, authorization
):
    server, pki_dir = tls_server
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    document = _kubeconfig(server, pki_dir, embedded=True)
    document["users"][0]["user"] = user

    answer = KubeApi.connect(_write(tmp_path, document)).request("GET", "/version")

    assert answer == {"path": "/version", "client": None, "authorization": authorization}


class _ConnectProxy(BaseHTTPRequestHandler):
    """An HTTP proxy that tunnels CONNECT to 127.0.0.1 only, recording each target."""

    tunnels: ClassVar[list[str]] = []

    def do_CONNECT(self) -> None:
        self.tunnels.append(self.path)
        host, port = self.path.rsplit(":", 1)
        assert host == "127.0.0.1", self.path
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self.send_response(200, "Connection established")
            self.end_headers()
            ends = [self.connection, upstream]
            while True:
                readable, _unused, _unused = select.select(ends, [], [], 10)
                if not readable:
                    return
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.connection else self.connection).sendall(data)

    def log_message(self, format: str, *args: object) -> None:
        return


def test_proxy_url_tunnels_to_the_server(tls_server, tmp_path):
    server, pki_dir = tls_server
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _ConnectProxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        document = _kubeconfig(server, pki_dir, embedded=True)
        document["clusters"][0]["cluster"]["proxy-url"] = f"http://127.0.0.1:{proxy.server_address[1]}"

        answer = KubeApi.connect(_write(tmp_path, document)).request("GET", "/version")
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(timeout=10)

    assert answer["client"] == "lab-admin"
    assert _ConnectProxy.tunnels == [server.removeprefix("https://")]


def test_insecure_skip_tls_verify_connects_without_the_ca(tls_server, tmp_path):
    server, pki_dir = tls_server
    document = _kubeconfig(server, pki_dir, embedded=True)
    document["clusters"][0]["cluster"] = {"server": server, "insecure-skip-tls-verify": True}

    assert KubeApi.connect(_write(tmp_path, document)).request("GET", "/version")["client"] == "lab-admin"


def test_an_unknown_ca_is_refused(tls_server, tmp_path):
    server, pki_dir = tls_server
    document = _kubeconfig(server, pki_dir, embedded=True)
    del document["clusters"][0]["cluster"]["certificate-authority-data"]  # the system store: no lab CA

    with pytest.raises(urllib3.exceptions.MaxRetryError, match="CERTIFICATE_VERIFY_FAILED"):
        KubeApi.connect(_write(tmp_path, document)).request("GET", "/version")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda doc: doc.pop("current-context"), "current-context is not set"),
        (lambda doc: doc.update({"current-context": "y"}), "contexts has no entry named 'y'"),
        (lambda doc: doc["clusters"][0]["cluster"].pop("server"), "cluster 'c' has no server"),
        (
            lambda doc: doc["users"][0]["user"].update({"exec": {"command": "aws"}}),
            "user 'u' authenticates with 'exec'.*token, tokenFile or client certificate",
        ),
    ],
    ids=["no current-context", "unknown context", "no server", "exec plugin"],
)
def test_a_kubeconfig_the_daemons_cannot_use_is_refused_naming_the_field(tmp_path, change, message):
    document = _kubeconfig("https://127.0.0.1:6443", tmp_path, embedded=False)
    change(document)

    with pytest.raises(ValueError, match=message):
        kubeconfig.load(_write(tmp_path, document))


def test_in_cluster_uses_the_mounted_ca_and_token(tls_server, tmp_path):
    server, pki_dir = tls_server
    (tmp_path / "ca.crt").write_bytes((pki_dir / "ca.crt").read_bytes())
    (tmp_path / "token").write_text("sa-token")
    host, port = server.removeprefix("https://").split(":")

    api = KubeApi(
        access.in_cluster(tmp_path, {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port})
    )

    assert api.request("GET", "/version")["authorization"] == "Bearer sa-token"


def test_in_cluster_outside_a_pod_says_to_give_a_kubeconfig(tmp_path):
    with pytest.raises(ValueError, match="not running in a pod; give the daemon --kubeconfig"):
        access.in_cluster(tmp_path, {})


def test_a_token_file_is_read_again_once_a_minute(tmp_path):
    """The kubelet rotates a bound service account token in place; the daemons pick it up."""
    path, now = tmp_path / "token", [0.0]
    path.write_text("first")
    token = access.TokenFile(path, clock=lambda: now[0])
    path.write_text("rotated")

    now[0] = access.TOKEN_REREAD_SECONDS - 1
    assert token() == "first"
    now[0] = access.TOKEN_REREAD_SECONDS
    assert token() == "rotated"
    path.unlink()  # a failed read keeps the last good token
    now[0] = 2 * access.TOKEN_REREAD_SECONDS
    assert token() == "rotated"
