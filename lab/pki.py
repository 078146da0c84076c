"""A small PKI for the lab.

One CA, the API server's serving certificate, client certificates for the admin and the
control-plane components, the service-account signing key, and per node a kubelet client
certificate (system:node:NAME in system:nodes, as the Node authorizer wants) and a kubelet
serving certificate for the node's addresses.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=365)

# Client identities: file stem -> (common name, organisation or None).
CLIENTS = {
    "admin": ("lab-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("lab-kwok", "system:masters"),
}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALIDITY)
    )


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def create(pki_dir: Path, server_names: Sequence[str], server_ips: Sequence[str]) -> None:
    """Write ca.{crt,key}, apiserver.{crt,key}, one client pair per CLIENTS entry and sa.{key,pub}."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_key = _key()
    ca_name = _name("baremetal-lb-lab-ca")
    ca = (
        _builder(ca_name, ca_name, ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki_dir / "ca.key", ca_key)
    _write_cert(pki_dir / "ca.crt", ca)

    server_key = _key()
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in server_ips]
    server = (
        _builder(_name("kube-apiserver"), ca_name, server_key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki_dir / "apiserver.key", server_key)
    _write_cert(pki_dir / "apiserver.crt", server)

    for stem, (cn, org) in CLIENTS.items():
        _client(pki_dir, stem, _name(cn, org), ca_name, ca_key)

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(pki_dir / "sa.key", sa_key)
    (pki_dir / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _client(
    pki_dir: Path, stem: str, subject: x509.Name, ca_name: x509.Name, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    key = _key()
    cert = (
        _builder(subject, ca_name, key.public_key())
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki_dir / f"{stem}.key", key)
    _write_cert(pki_dir / f"{stem}.crt", cert)


def create_node(pki_dir: Path, node: str, ips: Sequence[str]) -> None:
    """Write NODE-kubelet-client.{crt,key} and NODE-kubelet.{crt,key}, signed by the lab's CA."""
    ca_key = serialization.load_pem_private_key((pki_dir / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    ca_name = x509.load_pem_x509_certificate((pki_dir / "ca.crt").read_bytes()).subject
    _client(pki_dir, f"{node}-kubelet-client", _name(f"system:node:{node}", "system:nodes"), ca_name, ca_key)
    key = _key()
    sans: list[x509.GeneralName] = [x509.DNSName(node)]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    serving = (
        _builder(_name(f"system:node:{node}", "system:nodes"), ca_name, key.public_key())
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write_key(pki_dir / f"{node}-kubelet.key", key)
    _write_cert(pki_dir / f"{node}-kubelet.crt", serving)
