"""The metallb.io kinds: one table of their API group, versions, plurals, modules and models.

One kind lives in another group: BGPSessionState is frr-k8s's ``frrk8s.metallb.io`` kind,
written by this speaker under frr-k8s's name so that what users of MetalLB's FRR mode type
(``kubectl get bgpsessionstates``) works unchanged.

Every place that names a metallb.io kind (the configuration modules, the runners, the daemons'
config loader, the lab and the tests) reads it from here, so a version bump or a new kind is
one edit. :func:`cluster_resources` sorts a mixed list of objects into
:class:`.config_model.ClusterResources` by this table.

Standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .communities import Community
from .config_model import BFDProfile, BGPAdvertisement, BGPPeer, ClusterResources, L2Advertisement
from .pools import AddressPool

GROUP = "metallb.io"
FRRK8S_GROUP = "frrk8s.metallb.io"


@dataclass(frozen=True)
class MetallbKind:
    """One metallb.io kind as the API server serves it and as this collection uses it.

    ``versions`` are the served versions, oldest first; ``version`` is the storage version,
    the one everything here reads and writes; ``group`` the API group (metallb.io but for
    BGPSessionState). ``module`` is the Ansible module managing the
    kind and ``resources_field`` the :class:`.config_model.ClusterResources` field holding its
    objects (both None for the status kinds, which only the speakers write); ``model`` is the
    Python type :func:`.validation.parse_config` turns an object (a Community: each entry) into.
    """

    kind: str
    plural: str
    versions: tuple[str, ...]
    version: str
    module: str | None
    resources_field: str | None
    model: type | None
    group: str = GROUP

    @property
    def api_version(self) -> str:
        """``apiVersion`` of the objects, e.g. ``metallb.io/v1beta1``."""
        return f"{self.group}/{self.version}"

    @property
    def api_path(self) -> str:
        """The API path of the storage version, e.g. ``/apis/metallb.io/v1beta1``."""
        return f"/apis/{self.group}/{self.version}"

    @property
    def resource_name(self) -> str:
        """The CRD's name and RBAC resource, e.g. ``ipaddresspools.metallb.io``."""
        return f"{self.plural}.{self.group}"


IP_ADDRESS_POOL = MetallbKind(
    "IPAddressPool", "ipaddresspools", ("v1beta1",), "v1beta1", "ip_address_pool", "pools", AddressPool
)
L2_ADVERTISEMENT = MetallbKind(
    "L2Advertisement",
    "l2advertisements",
    ("v1beta1",),
    "v1beta1",
    "l2_advertisement",
    "l2_advertisements",
    L2Advertisement,
)
BGP_ADVERTISEMENT = MetallbKind(
    "BGPAdvertisement",
    "bgpadvertisements",
    ("v1beta1",),
    "v1beta1",
    "bgp_advertisement",
    "bgp_advertisements",
    BGPAdvertisement,
)
BGP_PEER = MetallbKind(
    "BGPPeer", "bgppeers", ("v1beta1", "v1beta2"), "v1beta2", "bgp_peer", "bgp_peers", BGPPeer
)
COMMUNITY = MetallbKind(
    "Community", "communities", ("v1beta1",), "v1beta1", "community", "communities", Community
)
BFD_PROFILE = MetallbKind(
    "BFDProfile", "bfdprofiles", ("v1beta1",), "v1beta1", "bfd_profile", "bfd_profiles", BFDProfile
)
SERVICE_L2_STATUS = MetallbKind(
    "ServiceL2Status", "servicel2statuses", ("v1beta1",), "v1beta1", None, None, None
)
SERVICE_BGP_STATUS = MetallbKind(
    "ServiceBGPStatus", "servicebgpstatuses", ("v1beta1",), "v1beta1", None, None, None
)
BGP_SESSION_STATE = MetallbKind(
    "BGPSessionState", "bgpsessionstates", ("v1beta1",), "v1beta1", None, None, None, FRRK8S_GROUP
)
# The labels the speakers put on their status objects (both kinds), as MetalLB's do: who
# announces what.
STATUS_NODE_LABEL = f"{GROUP}/node"
STATUS_SERVICE_NAME_LABEL = f"{GROUP}/service-name"
STATUS_SERVICE_NAMESPACE_LABEL = f"{GROUP}/service-namespace"

# The configuration kinds, in the order the configuration is read and applied.
CONFIG_KINDS: tuple[MetallbKind, ...] = (
    IP_ADDRESS_POOL,
    L2_ADVERTISEMENT,
    BGP_ADVERTISEMENT,
    BGP_PEER,
    COMMUNITY,
    BFD_PROFILE,
)
# The kinds the speakers write, one object per (Service, node) announcing it.
STATUS_KINDS: tuple[MetallbKind, ...] = (SERVICE_L2_STATUS, SERVICE_BGP_STATUS)
# The kinds the speakers write, one object per (node, BGP peer) with the session's state.
SESSION_KINDS: tuple[MetallbKind, ...] = (BGP_SESSION_STATE,)
ALL_KINDS: tuple[MetallbKind, ...] = (*CONFIG_KINDS, *STATUS_KINDS, *SESSION_KINDS)
BY_KIND: Mapping[str, MetallbKind] = {kind.kind: kind for kind in ALL_KINDS}


def cluster_resources(objects: Sequence[Mapping[str, Any]]) -> ClusterResources:
    """Sort a mixed list of objects (each with ``kind``) into their kinds; others are ignored.

    Nodes (kind ``Node``) are kept too, for the checks that need the nodes' labels.
    """
    by_kind: dict[str, list[Mapping[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(str(obj.get("kind")), []).append(obj)
    fields = {str(kind.resources_field): by_kind.get(kind.kind, []) for kind in CONFIG_KINDS}
    return ClusterResources(**fields, nodes=by_kind.get("Node"))
