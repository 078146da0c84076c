"""BGPSessionState objects: one per (node, BGP peer), the state of that node's session to it.

The kind is frr-k8s's (``frrk8s.metallb.io/v1beta1``, :data:`.metallb_kinds.BGP_SESSION_STATE`)
with frr-k8s's labels and ``status`` (``bgpStatus``, ``bfdStatus``, ``node``, ``peer``, ``vrf``),
so what users of MetalLB's FRR mode run (``kubectl get bgpsessionstates``, label selectors on
node and peer) works unchanged. ``status.peer`` is the peer's address, as in frr-k8s; the
BGPPeer's name, which ServiceBGPStatus lists, is in one more label (:data:`BGPPEER_LABEL`),
so ``lb_info`` can say whether the peers a Service is announced to have a session up.

The speaker builds the objects with :func:`session_object`; ``lb_info`` reads them back with
:func:`read_session`. Standard library only.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .metallb_kinds import BGP_SESSION_STATE, FRRK8S_GROUP, GROUP

BGP_STATES = ("Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established")
ESTABLISHED = "Established"
IDLE = "Idle"
BFD_STATES = ("Up", "Down", "Init", "AdminDown", "N/A")
NO_BFD = "N/A"  # the session has no BFD profile (or its BFD session is not running)

NODE_LABEL = f"{FRRK8S_GROUP}/node"
PEER_LABEL = f"{FRRK8S_GROUP}/peer"
VRF_LABEL = f"{FRRK8S_GROUP}/vrf"
BGPPEER_LABEL = f"{GROUP}/bgppeer"  # not frr-k8s's: the metallb.io BGPPeer the session is for

_LABEL_MAX = 63
_NAME_MAX = 253
_HASH_CHARS = 10
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]")
_NOT_NAME = re.compile(r"[^a-z0-9.-]")
# The BFD engine's state names (RFC 5880's, upper case) as frr-k8s writes them.
_BFD_BY_ENGINE = {"UP": "Up", "DOWN": "Down", "INIT": "Init", "ADMIN_DOWN": "AdminDown"}


@dataclass(frozen=True)
class SessionState:
    """One node's session to one BGPPeer, as its BGPSessionState object says it."""

    node: str
    bgppeer: str  # the BGPPeer's name
    address: str  # the peer's address (status.peer)
    bgp: str = IDLE  # one of BGP_STATES
    bfd: str = NO_BFD  # one of BFD_STATES
    vrf: str = ""

    @property
    def established(self) -> bool:
        """Whether the BGP session is Established."""
        return self.bgp == ESTABLISHED


def bgp_status(state: Any) -> str:
    """A session state as ``status.bgpStatus`` says it; anything unknown (or None) is Idle."""
    text = str(state) if state is not None else IDLE
    return text if text in BGP_STATES else IDLE


def bfd_status(state: Any) -> str:
    """The BFD engine's state name (``UP``, ``ADMIN_DOWN``, …) as ``status.bfdStatus``; None is N/A."""
    if state is None:
        return NO_BFD
    return _BFD_BY_ENGINE.get(str(state).upper(), NO_BFD)


def label_value(text: str) -> str:
    """``text`` as a label value: ``:`` and other forbidden characters become ``-``, at most 63.

    An IPv6 address keeps its shape (``2001-db8--1``); a value cut to fit ends with a hash of
    the whole, so two long values stay apart.
    """
    value = _NOT_LABEL.sub("-", text)
    if len(value) > _LABEL_MAX:
        value = f"{value[: _LABEL_MAX - _HASH_CHARS - 1]}-{_digest(text)}"
    return value.strip("-._")  # a label value starts and ends with a letter or digit


def object_name(node: str, bgppeer: str) -> str:
    """The object's name: ``<node>-<bgppeer>-<hash>``, a DNS subdomain unique per (node, BGPPeer).

    The hash of the pair keeps ``node-a``/``x`` and ``node``/``a-x`` apart; the readable part
    is cut so the whole fits 253 characters.
    """
    readable = _NOT_NAME.sub("-", f"{node}-{bgppeer}".lower()).strip("-.")
    readable = readable[: _NAME_MAX - _HASH_CHARS - 1].rstrip("-.")
    return f"{readable}-{_digest(f'{node}/{bgppeer}')}" if readable else _digest(f"{node}/{bgppeer}")


def session_labels(state: SessionState) -> dict[str, str]:
    """The object's labels: frr-k8s's node, peer (the address) and vrf, and the BGPPeer's name."""
    return {
        NODE_LABEL: label_value(state.node),
        PEER_LABEL: label_value(state.address),
        VRF_LABEL: label_value(state.vrf),
        BGPPEER_LABEL: label_value(state.bgppeer),
    }


def session_status(state: SessionState) -> dict[str, str]:
    """The object's ``status``, field for field as frr-k8s writes it."""
    return {
        "bgpStatus": state.bgp,
        "bfdStatus": state.bfd,
        "node": state.node,
        "peer": state.address,
        "vrf": state.vrf,
    }


def pod_owner(name: str, uid: str) -> dict[str, Any]:
    """An owner reference to the speaker's Pod: the objects go when the Pod does."""
    return {"apiVersion": "v1", "kind": "Pod", "name": name, "uid": uid, "controller": False}


def session_object(
    state: SessionState, namespace: str, owner: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The whole object for ``state`` in ``namespace``, owned by ``owner`` when given.

    The API server drops ``status`` on create (it is a subresource): write it with a second
    request.
    """
    metadata: dict[str, Any] = {
        "name": object_name(state.node, state.bgppeer),
        "namespace": namespace,
        "labels": session_labels(state),
    }
    if owner is not None:
        metadata["ownerReferences"] = [dict(owner)]
    return {
        "apiVersion": BGP_SESSION_STATE.api_version,
        "kind": BGP_SESSION_STATE.kind,
        "metadata": metadata,
        "status": session_status(state),
    }


def node_sessions(
    node: str, configured: Mapping[str, str], reported: Mapping[str, Mapping[str, Any]]
) -> dict[str, SessionState]:
    """The sessions of ``node`` by BGPPeer name: one per ``configured`` peer (name -> address).

    ``reported`` is the BGP engine's latest word by peer name (``state``: the FSM's state,
    ``bfd``: the BFD engine's state name or None); a configured peer the engine does not run
    (refused, or not started yet) is Idle without BFD.
    """
    sessions = {}
    for name, address in configured.items():
        report = reported.get(name) or {}
        sessions[name] = SessionState(
            node=node,
            bgppeer=name,
            address=address,
            bgp=bgp_status(report.get("state")),
            bfd=bfd_status(report.get("bfd")),
        )
    return sessions


def read_session(obj: Mapping[str, Any]) -> SessionState | None:
    """The session an object reports; None when it names no node or no BGPPeer.

    ``bgppeer`` is read from the label, so it is the BGPPeer's name as :func:`label_value`
    writes it (the name itself unless longer than 63 characters): compare with that.
    """
    status = obj.get("status") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    node = str(status.get("node") or labels.get(NODE_LABEL) or "")
    bgppeer = str(labels.get(BGPPEER_LABEL) or "")
    if not node or not bgppeer:
        return None
    return SessionState(
        node=node,
        bgppeer=bgppeer,
        address=str(status.get("peer") or ""),
        bgp=bgp_status(status.get("bgpStatus")),
        bfd=str(status.get("bfdStatus") or NO_BFD),
        vrf=str(status.get("vrf") or ""),
    )


Sessions = Mapping[tuple[str, str], SessionState]
"""Sessions by (node, BGPPeer name as its label says it): what :func:`sessions_by_peer` builds."""


def sessions_by_peer(objects: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], SessionState]:
    """The sessions the objects report, by (node, BGPPeer label); objects naming neither are skipped."""
    found = {}
    for obj in objects:
        session = read_session(obj)
        if session is not None:
            found[(session.node, session.bgppeer)] = session
    return found


def session_of(sessions: Sessions, node: str, bgppeer: str) -> SessionState | None:
    """The session of ``node`` to the BGPPeer named ``bgppeer``; None when no object says it."""
    return sessions.get((node, label_value(bgppeer)))


def not_established(pairs: Iterable[tuple[str, str]], sessions: Sessions) -> str | None:
    """Why none of the (node, BGPPeer) ``pairs`` carries a route; None when one is Established.

    E.g. ``node1/tor-a: Active, node2/tor-a: no BGPSessionState``; None too when there is no
    pair (then nobody announces, which is said elsewhere).
    """
    states = []
    for node, peer in sorted(set(pairs)):
        session = session_of(sessions, node, peer)
        if session is not None and session.established:
            return None
        states.append(f"{node}/{peer}: {session.bgp if session else 'no BGPSessionState'}")
    return ", ".join(states) or None


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]
