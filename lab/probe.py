"""Ask from the lab's client namespace who answers for each LoadBalancer IP, as a user would see it.

IPv4 addresses are resolved with arping, IPv6 ones with ndisc6; the answering MAC is matched to
the lab host it belongs to.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.services import ingress_ips

from .state import LabState

_MAC = re.compile(r"([0-9a-f]{2}(?::[0-9a-f]{2}){5})", re.IGNORECASE)


@dataclass(frozen=True)
class Answer:
    """Who answered for one LoadBalancer IP (None when nobody did)."""

    service: str
    ip: str
    mac: str | None
    host: str | None


def who_answers(state: LabState, ip: str) -> tuple[str | None, str | None]:
    """(MAC, lab host name) of whoever answers ARP or NDP for `ip` on the client's LAN."""
    client_host = state.hosts["client"]
    if ipaddress.ip_address(ip).version == 4:
        argv = ["arping", "-c", "1", "-w", "2", "-i", client_host["interface"], ip]
    else:
        argv = ["ndisc6", "-1", "-r", "2", ip, client_host["interface"]]
    out = state.exec("client", argv, check=False, timeout=10)
    found = [m.lower() for m in _MAC.findall(out) if m.lower() != client_host["mac"].lower()]
    if not found:
        return None, None
    owners = {h["mac"].lower(): name for name, h in state.hosts.items()}
    return found[0], owners.get(found[0])


def probe_all(state: LabState, api: client.ApiClient) -> list[Answer]:
    """Probe every IP of every LoadBalancer Service in the cluster."""
    answers = []
    for item in client.CoreV1Api(api).list_service_for_all_namespaces().items:
        svc: dict[str, Any] = api.sanitize_for_serialization(item)
        meta = svc.get("metadata") or {}
        if (svc.get("spec") or {}).get("type") != "LoadBalancer":
            continue
        name = f"{meta.get('namespace')}/{meta.get('name')}"
        ips = ingress_ips(svc)
        if not ips:
            answers.append(Answer(name, "(pending)", None, None))
        for ip in ips:
            mac, host = who_answers(state, str(ip))
            answers.append(Answer(name, str(ip), mac, host))
    return answers


def report(answers: list[Answer]) -> str:
    """Lines a person reads: which node answers for which Service IP."""
    if not answers:
        return "no LoadBalancer Services in the cluster"
    lines = []
    for a in answers:
        if a.ip == "(pending)":
            lines.append(f"{a.service}: no IP assigned yet")
        elif a.mac:
            lines.append(
                f"{a.service}: {a.ip} answered from the client by {a.host or 'an unknown host'} ({a.mac})"
            )
        else:
            lines.append(f"{a.service}: {a.ip} NOT answered from the client")
    return "\n".join(lines)
