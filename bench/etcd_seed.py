"""Store Services straight in the lab's etcd, as the API server would have stored them.

For set-ups the API server cannot make in bounded time: kube-apiserver 1.37 recounts every
IPAddress object on each ClusterIP allocation (``ipallocator.Allocator.Used``), so creating
100,000 Services through it takes hours. A restore from an etcd backup puts objects in place
without that path, and so does this: each Service, its ClusterIP's ``IPAddress`` object (what
the allocator would have created, so the API server's repair loop finds nothing to mend) and
nothing else, written as JSON (the API server reads JSON from etcd whatever media type it
writes) in transactions of :data:`TXN_OPS` puts that each fail if any key exists. The API server
sees them through its watch of etcd, as it sees its own writes; every later read and write goes
through it.

    seed(lab, namespace, services)     # from the bench, on the host

runs ``python -m bench.etcd_seed`` inside the control plane's network namespace (etcd listens
on its loopback only) and feeds it one JSON line per object on stdin.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from ipaddress import IPv6Address, IPv6Network
from typing import Any

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import ApiError, KubeApi
from lab.state import LabState

ETCD = "http://127.0.0.1:2379"  # in the control plane's netns (lab/controlplane.py)
TXN_OPS = 128  # etcd's default --max-txn-ops
AHEAD = 16 * TXN_OPS  # IPAddresses stored before their Services, in steps of this many Services
ALLOCATOR = "ipallocator.k8s.io"  # the ClusterIP allocator's managed-by label value
TIMEOUT = 30.0  # seconds per etcd request
SERVICES = "/registry/services/specs/"  # the API server's etcd keys: + namespace/name
IP_ADDRESSES = "/registry/ipaddresses/"  # + the IP


def stored(service: dict[str, Any], namespace: str, cluster_ip: str) -> list[tuple[str, dict[str, Any]]]:
    """The etcd keys and objects (IPAddress, Service) of an IPv6 single-stack ``service`` in ``namespace``."""
    name = service["metadata"]["name"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    meta = {**service["metadata"], "namespace": namespace, "uid": str(uuid.uuid4()), "creationTimestamp": now}
    spec = {**service["spec"], "clusterIP": cluster_ip, "clusterIPs": [cluster_ip]}
    address = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IPAddress",
        "metadata": {
            "name": cluster_ip,
            "uid": str(uuid.uuid4()),
            "creationTimestamp": now,
            "labels": {
                "ipaddress.kubernetes.io/ip-family": "IPv6",
                "ipaddress.kubernetes.io/managed-by": ALLOCATOR,
            },
        },
        "spec": {"parentRef": {"group": "", "resource": "services", "namespace": namespace, "name": name}},
    }
    return [  # in the API server's order: the IP is allocated before the Service is stored
        (f"{IP_ADDRESSES}{cluster_ip}", address),
        (f"{SERVICES}{namespace}/{name}", {**service, "metadata": meta, "spec": spec}),
    ]


def cluster_ips(service_cidrs: Sequence[str], taken: Iterable[str]) -> Iterator[str]:
    """ClusterIPs of the lab's IPv6 Service range, in order, skipping ``taken`` ones and the first 64K."""
    networks = [IPv6Network(cidr) for cidr in service_cidrs if ":" in cidr]
    if not networks:
        raise ValueError(f"no IPv6 Service range among {list(service_cidrs)}")
    network = networks[0]
    skip = set(taken)
    for offset in range(1 << 16, network.num_addresses - 1):
        ip = str(IPv6Address(int(network.network_address) + offset))
        if ip not in skip:
            yield ip


def seed(lab: LabState, namespace: str, services: Iterable[dict[str, Any]]) -> int:
    """Store ``services`` (IPv6 single-stack manifests) in ``namespace``; how many were stored.

    Refuses, storing nothing, when a Service of the same name is stored already.
    """
    argv = ["ip", "netns", "exec", lab.hosts["cp"]["netns"], sys.executable, "-m", "bench.etcd_seed"]

    def names_under(prefix: str) -> list[str]:
        found = subprocess.run([*argv, "--keys", prefix], check=True, capture_output=True, text=True).stdout
        names: list[str] = json.loads(found)
        return names

    wanted = list(services)
    names = {service["metadata"]["name"] for service in wanted}
    if clashing := sorted(names & set(names_under(f"{SERVICES}{namespace}/"))):
        raise RuntimeError(f"storing Services in etcd failed: {namespace} has {', '.join(clashing)} already")
    ips = cluster_ips(lab.data["service_cidrs"], names_under(IP_ADDRESSES))
    with subprocess.Popen(argv, stdin=subprocess.PIPE, text=True) as writer:
        assert writer.stdin is not None
        for start in range(0, len(wanted), AHEAD):
            # the IPAddresses, then their Services: the repair loop in the API server sees each IP
            # allocated by the time it sees its Service (as it would), well within its 60 s grace
            pairs = [stored(service, namespace, next(ips)) for service in wanted[start : start + AHEAD]]
            for key, obj in [pair[0] for pair in pairs] + [pair[1] for pair in pairs]:
                writer.stdin.write(json.dumps({"key": key, "object": obj}) + "\n")
        writer.stdin.close()
        if writer.wait() != 0:
            raise RuntimeError(f"storing Services in etcd failed (exit status {writer.returncode})")
    return len(wanted)


def cache_behind(error: ApiError) -> bool:
    """Whether the API server refused a list because its watch cache has not seen etcd's latest write yet.

    It answers 504 "Too large resource version" until it has: ask again.
    """
    return bool(error.status == 504)


def listed(api: KubeApi, namespace: str) -> int | None:
    """How many Services the API server lists in ``namespace``; None while its cache catches up with etcd.

    Asked for a page as informers ask (served from the API server's watch cache once it has seen
    the latest write; until then it answers 504 "Too large resource version").
    """
    try:
        page = api.request("GET", f"/api/v1/namespaces/{namespace}/services", {"limit": 500})
    except ApiError as error:
        if cache_behind(error):
            return None
        raise
    return len(page.get("items") or []) + int(page["metadata"].get("remainingItemCount", 0))


# -- inside the control plane's netns ------------------------------------------------------------


def _post(path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        ETCD + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def _b64(text: str | bytes) -> str:
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def _keys(prefix: str) -> list[str]:
    """The keys under ``prefix``, without it."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # the first key past every key with the prefix
    answer = _post("/v3/kv/range", {"key": _b64(prefix), "range_end": _b64(end), "keys_only": True})
    return [base64.b64decode(kv["key"]).decode()[len(prefix) :] for kv in answer.get("kvs", [])]


def _put_all(puts: list[tuple[str, bytes]]) -> None:
    """Put every key in one transaction that fails if any of them exists."""
    answer = _post(
        "/v3/kv/txn",
        {
            "compare": [
                {"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
                for key, _value in puts
            ],
            "success": [{"requestPut": {"key": _b64(key), "value": _b64(value)}} for key, value in puts],
        },
    )
    if not answer.get("succeeded"):
        raise RuntimeError(f"a key of {puts[0][0]} ... {puts[-1][0]} exists already: nothing overwritten")


def main() -> int:
    """``--keys PREFIX``: print the keys under PREFIX (without it); else store each JSON line of stdin."""
    if sys.argv[1:2] == ["--keys"]:
        print(json.dumps(_keys(sys.argv[2])))
        return 0
    started, stored_count, batch = time.monotonic(), 0, []
    for line in sys.stdin:
        item = json.loads(line)
        batch.append((str(item["key"]), json.dumps(item["object"], separators=(",", ":")).encode()))
        if len(batch) == TXN_OPS:
            _put_all(batch)
            stored_count, batch = stored_count + len(batch), []
            if stored_count % (TXN_OPS * 100) == 0:
                print(f"etcd: {stored_count} objects stored in {time.monotonic() - started:.1f}s", flush=True)
    if batch:
        _put_all(batch)
        stored_count += len(batch)
    print(f"etcd: {stored_count} objects stored in {time.monotonic() - started:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
