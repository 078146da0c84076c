"""GoBGP's own gRPC API from Python: stubs generated from the .proto files of the installed gobgpd.

The .proto files come from the Go module proxy for exactly the version ``gobgp --version``
reports (GoBGP's API changes between releases), and the stubs are generated once with
grpcio-tools into ``~/.cache/baremetal-lb/gobgp-api/<version>/``, like the lab's other builds.
:func:`load` returns the generated modules; :class:`Injector` adds and removes IPv6 unicast
host routes in GoBGP's global RIB in batches through ``AddPathStream``, GoBGP's bulk path API.
"""

from __future__ import annotations

import importlib
import ipaddress
import re
import subprocess
import sys
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
from google.protobuf import any_pb2

CACHE = Path.home() / ".cache" / "baremetal-lb" / "gobgp-api"
PROXY = "https://proxy.golang.org/github.com/osrg/gobgp/v3/@v/v{version}.zip"
PROTOS = ("gobgp.proto", "attribute.proto", "capability.proto")
# Paths per AddPathStreamRequest. GoBGP's own bulk loader (`gobgp mrt inject`) sends one request
# per MRT record, i.e. per prefix; 100 or 10,000 per request moved the 10,000-prefix figure by
# under 10 % on the 2-core VM, so the batch size does not decide the comparison.
BATCH = 1000


def installed_version() -> str:
    """The version of the installed gobgp client (the Debian package ships it with gobgpd)."""
    out = subprocess.run(
        ["gobgp", "--version"], capture_output=True, text=True, check=True, timeout=10
    ).stdout
    found = re.search(r"(\d+\.\d+\.\d+)", out)
    if not found:
        raise RuntimeError(f"cannot read a version from `gobgp --version`: {out!r}")
    return found.group(1)


def stubs_dir(version: str) -> Path:
    """Generate (once) and return the directory holding the Python stubs for ``version``."""
    out = CACHE / version
    if (out / "gobgp_pb2_grpc.py").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    archive = CACHE / f"gobgp-v{version}.zip"
    if not archive.exists():
        partial = archive.with_suffix(".part")
        with urllib.request.urlopen(PROXY.format(version=version), timeout=60) as answer:
            partial.write_bytes(answer.read())
        partial.rename(archive)
    protos = out / "proto"
    protos.mkdir(exist_ok=True)
    with zipfile.ZipFile(archive) as module:
        for name in PROTOS:
            member = f"github.com/osrg/gobgp/v3@v{version}/api/{name}"
            (protos / name).write_bytes(module.read(member))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{protos}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *(str(protos / name) for name in PROTOS),
        ],
        check=True,
        timeout=120,
    )
    return out


@dataclass(frozen=True)
class Api:
    """The generated modules: messages (``pb``, ``attrs``) and the service stub (``grpc``)."""

    pb: ModuleType
    attrs: ModuleType
    grpc: ModuleType


def load(version: str | None = None) -> Api:
    """Import the stubs for the installed gobgpd (generating them first when needed)."""
    path = str(stubs_dir(version or installed_version()))
    if path not in sys.path:
        sys.path.insert(0, path)  # the generated modules import each other by bare name
    return Api(
        importlib.import_module("gobgp_pb2"),
        importlib.import_module("attribute_pb2"),
        importlib.import_module("gobgp_pb2_grpc"),
    )


class Injector:
    """Adds and removes IPv6 unicast routes in a gobgpd's global RIB through its gRPC API."""

    def __init__(self, api: Api, target: str) -> None:
        self._api = api
        self._channel = grpc.insecure_channel(target)
        self._stub = api.grpc.GobgpApiStub(self._channel)
        self._family = api.pb.Family(afi=api.pb.Family.AFI_IP6, safi=api.pb.Family.SAFI_UNICAST)

    def paths(self, prefixes: Sequence[ipaddress.IPv6Network], next_hop: str) -> list[Any]:
        """GoBGP Path messages for ``prefixes`` (ORIGIN IGP, MP_REACH with ``next_hop``)."""
        pb, attrs = self._api.pb, self._api.attrs
        origin = _any(attrs.OriginAttribute(origin=0))
        built = []
        for prefix in prefixes:
            nlri = _any(
                attrs.IPAddressPrefix(prefix_len=prefix.prefixlen, prefix=str(prefix.network_address))
            )
            reach = _any(attrs.MpReachNLRIAttribute(family=self._family, next_hops=[next_hop], nlris=[nlri]))
            built.append(pb.Path(nlri=nlri, pattrs=[origin, reach], family=self._family))
        return built

    def add(self, paths: Sequence[Any]) -> None:
        """Stream ``paths`` into the global RIB, :data:`BATCH` per request; returns when GoBGP took them."""
        pb = self._api.pb

        def requests() -> Iterator[Any]:
            for start in range(0, len(paths), BATCH):
                yield pb.AddPathStreamRequest(table_type=pb.GLOBAL, paths=paths[start : start + BATCH])

        self._stub.AddPathStream(requests(), timeout=300)

    def clear(self) -> None:
        """Remove every IPv6 unicast path from the global RIB (a DeletePath with a family, no path)."""
        pb = self._api.pb
        self._stub.DeletePath(pb.DeletePathRequest(table_type=pb.GLOBAL, family=self._family), timeout=60)

    def ready(self) -> bool:
        """Whether gobgpd answers its API."""
        try:
            self._stub.GetBgp(self._api.pb.GetBgpRequest(), timeout=2)
        except Exception:  # grpc.RpcError and friends: not up yet
            return False
        return True

    def close(self) -> None:
        """Close the channel."""
        self._channel.close()


def _any(message: Any) -> Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed
