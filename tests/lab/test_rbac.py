"""Least-privilege RBAC of the controller and speaker ServiceAccounts, proven on the lab.

Every verb the daemons need is allowed and the dangerous neighbours are denied, asked of the
real authorizer with SubjectAccessReviews for the ServiceAccounts' full identity (user and
groups), cross-checked with `kubectl auth can-i --as`, and finally with real tokens against the
API itself. The RBAC objects live in metallb-system and are applied idempotently (server-side
apply) and kept: other tests of the same lab share them.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from ansible_collections.baremetal.lb.plugins.module_utils.metallb_kinds import (
    BGP_SESSION_STATE,
    CONFIG_KINDS,
    FRRK8S_GROUP,
    GROUP,
    IP_ADDRESS_POOL,
    SESSION_KINDS,
    STATUS_KINDS,
)
from ansible_collections.baremetal.lb.plugins.module_utils.session_states import SessionState, session_object
from ansible_collections.baremetal.lb.plugins.module_utils.status_objects import (
    BGP_STATUS_KIND,
    L2_STATUS_KIND,
    status_labels,
)

REPO = Path(__file__).resolve().parents[2]
RBAC_DIR = REPO / "roles" / "install" / "files" / "rbac"
CRD_DIR = REPO / "roles" / "install" / "files" / "crds"
NS = "metallb-system"
CONFIG = [kind.plural for kind in CONFIG_KINDS]
# written by the speakers only (BGPSessionState in frr-k8s's group)
STATUSES = [f"{kind.group}/{kind.plural}" for kind in (*STATUS_KINDS, *SESSION_KINDS)]
OTHER = "default"  # a namespace that is not ours; Services of users live in namespaces like it


@pytest.fixture(scope="module")
def rbac(kube, kubectl) -> None:
    """metallb-system with the ServiceAccounts, roles and bindings, applied idempotently."""
    core = client.CoreV1Api(kube)
    try:
        core.create_namespace({"metadata": {"name": NS}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=bmlb-tests", "-f", str(RBAC_DIR))


def _identity(sa: str) -> dict:
    return {
        "user": f"system:serviceaccount:{NS}:{sa}",
        "groups": ["system:serviceaccounts", f"system:serviceaccounts:{NS}", "system:authenticated"],
    }


def _allowed(kube, sa: str, verb: str, resource: str, namespace: str | None = None, name: str = "") -> bool:
    # "services", "services/status", "metallb.io/ipaddresspools/status": a group has a dot
    parts = resource.split("/")
    group = parts.pop(0) if "." in parts[0] else ""
    resource_name, subresource = parts[0], parts[1] if len(parts) > 1 else ""
    attrs = {
        "verb": verb,
        "group": group,
        "resource": resource_name,
        "subresource": subresource,
        "name": name,
    }
    if namespace:
        attrs["namespace"] = namespace
    review = client.AuthorizationV1Api(kube).create_subject_access_review(
        {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {**_identity(sa), "resourceAttributes": attrs},
        }
    )
    return bool(review.status.allowed)


def _cases(verbs: str, resources: list[str], namespace: str | None, name: str = "") -> list[tuple]:
    return [(v, r, namespace, name) for r in resources for v in verbs.split()]


READ = "get list watch"

CONTROLLER_ALLOWED = [
    *_cases(READ, ["services", "namespaces"], None),
    *_cases(READ, ["services"], OTHER),
    *_cases("update patch", ["services", "services/status"], OTHER),
    *_cases("create patch", ["events", "events.k8s.io/events"], OTHER),
    *_cases("create patch", ["events", "events.k8s.io/events"], NS),
    *_cases(READ, [f"metallb.io/{r}" for r in CONFIG], NS),
    *_cases("update patch", ["metallb.io/ipaddresspools/status"], NS),
    *_cases(READ, ["secrets"], NS, "memberlist"),
]
CONTROLLER_DENIED = [
    *_cases("create delete deletecollection", ["services"], OTHER),
    *_cases("get list", ["secrets"], OTHER),
    *_cases("get list", ["secrets"], None),
    ("list", "secrets", NS, ""),  # only the memberlist Secret, never a listing of BGP passwords
    ("get", "secrets", NS, "bgp-peer-password"),
    ("update", "secrets", NS, "memberlist"),
    *_cases("create update patch delete", [f"metallb.io/{r}" for r in CONFIG], NS),
    *_cases(READ, ["metallb.io/ipaddresspools"], OTHER),
    ("update", "metallb.io/ipaddresspools/status", OTHER, ""),
    *_cases("create update", STATUSES, NS),
    *_cases("list", ["nodes", "pods", "configmaps", "discovery.k8s.io/endpointslices"], None),
    # Nodes are the speakers' business: the controller neither reads nor touches them
    *_cases("get watch create update patch delete", ["nodes"], None),
    *_cases("get", ["nodes"], None, "node1"),
    *_cases("update patch", ["nodes/status"], None),
    ("update", "namespaces", None, ""),
    ("impersonate", "serviceaccounts", NS, ""),
    ("escalate", "rbac.authorization.k8s.io/clusterroles", None, ""),
]

SPEAKER_ALLOWED = [
    *_cases(READ, ["services", "nodes", "namespaces", "discovery.k8s.io/endpointslices"], None),
    *_cases(READ, ["services", "discovery.k8s.io/endpointslices"], OTHER),
    *_cases("create patch", ["events", "events.k8s.io/events"], OTHER),
    *_cases(READ, [f"metallb.io/{r}" for r in CONFIG], NS),
    *_cases(f"{READ} create update patch delete", STATUSES, NS),
    *_cases("update patch", [f"{plural}/status" for plural in STATUSES], NS),
    *_cases(READ, ["secrets"], NS),
    ("get", "secrets", NS, "memberlist"),
]
SPEAKER_DENIED = [
    # Services are the controller's to write: the speaker only reads them, in every namespace
    *_cases("create update patch delete", ["services"], OTHER),
    *_cases("create update patch delete", ["services"], NS),
    *_cases("update patch", ["services/status"], OTHER),
    *_cases("update patch", ["services/status"], NS),
    *_cases("update patch delete", ["nodes"], None),
    # Secrets only of its own namespace (the memberlist key, BGP passwords)
    *_cases("get list watch", ["secrets"], OTHER),
    *_cases("get list watch", ["secrets"], "kube-system"),
    *_cases("list watch", ["secrets"], None),
    *_cases("create update delete", ["secrets"], NS),
    *_cases("create update patch delete", [f"metallb.io/{r}" for r in CONFIG], NS),
    ("patch", "metallb.io/ipaddresspools/status", NS, ""),
    *_cases("create list", STATUSES, OTHER),
    *_cases("create", ["pods", "discovery.k8s.io/endpointslices"], OTHER),
    *_cases("list", ["pods", "configmaps"], None),
    *_cases("deletecollection", STATUSES, NS),
]


def _ids(cases: list[tuple]) -> list[str]:
    return [f"{v}-{r}-{ns or 'cluster'}{'-' + n if n else ''}" for v, r, ns, n in cases]


def _wait_allowed(kube, sa: str, *args) -> bool:
    deadline = time.monotonic() + 10  # the authorizer sees new bindings after an informer resync
    while True:
        if _allowed(kube, sa, *args) or time.monotonic() > deadline:
            return _allowed(kube, sa, *args)
        time.sleep(0.2)


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "name"), CONTROLLER_ALLOWED, ids=_ids(CONTROLLER_ALLOWED)
)
def test_controller_may(rbac, kube, verb, resource, namespace, name):
    assert _wait_allowed(kube, "controller", verb, resource, namespace, name)


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "name"), CONTROLLER_DENIED, ids=_ids(CONTROLLER_DENIED)
)
def test_controller_may_not(rbac, kube, verb, resource, namespace, name):
    assert _wait_allowed(kube, "controller", "get", "services", None)  # bindings are in effect
    assert not _allowed(kube, "controller", verb, resource, namespace, name)


@pytest.mark.parametrize(
    ("verb", "resource", "namespace", "name"), SPEAKER_ALLOWED, ids=_ids(SPEAKER_ALLOWED)
)
def test_speaker_may(rbac, kube, verb, resource, namespace, name):
    assert _wait_allowed(kube, "speaker", verb, resource, namespace, name)


@pytest.mark.parametrize(("verb", "resource", "namespace", "name"), SPEAKER_DENIED, ids=_ids(SPEAKER_DENIED))
def test_speaker_may_not(rbac, kube, verb, resource, namespace, name):
    assert _wait_allowed(kube, "speaker", "get", "nodes", None)
    assert not _allowed(kube, "speaker", verb, resource, namespace, name)


def test_kubectl_auth_can_i_agrees(rbac, crds, kube, kubectl):  # kubectl resolves kinds by discovery
    assert _wait_allowed(kube, "controller", "patch", "services/status", OTHER)
    assert _wait_allowed(kube, "speaker", "create", "metallb.io/servicel2statuses", NS)

    def can_i(sa: str, *args: str) -> str:
        as_sa = f"--as=system:serviceaccount:{NS}:{sa}"
        return kubectl("auth", "can-i", as_sa, *args, check=False).stdout.strip()

    assert can_i("controller", "patch", "services", "--subresource=status", "-n", OTHER) == "yes"
    assert can_i("controller", "delete", "services", "-n", OTHER) == "no"
    assert can_i("controller", "get", "secrets", "-n", OTHER) == "no"
    assert can_i("controller", "create", "ipaddresspools.metallb.io", "-n", NS) == "no"
    assert can_i("speaker", "create", "servicel2statuses.metallb.io", "-n", NS) == "yes"
    status = "--subresource=status"
    assert can_i("speaker", "patch", "servicebgpstatuses.metallb.io", status, "-n", NS) == "yes"
    assert can_i("speaker", "list", "endpointslices.discovery.k8s.io", "--all-namespaces") == "yes"
    assert can_i("speaker", "update", "services", "-n", OTHER) == "no"


def test_roles_name_no_wildcards_and_clusterroles_no_secrets():
    for path in sorted(RBAC_DIR.glob("*.yaml")):
        docs = yaml.safe_load(path.read_text())["items"]  # one v1 List per file
        kinds = {d["kind"] for d in docs}
        assert kinds == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}, path
        for doc in docs:
            if doc["kind"] in ("Role", "RoleBinding", "ServiceAccount"):
                assert doc["metadata"]["namespace"] == NS
            for rule in doc.get("rules", []):
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], (path, rule)
                assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), (path, rule)
                if doc["kind"] == "ClusterRole":
                    assert "secrets" not in rule["resources"], (path, rule)


# --- with the ServiceAccounts' own tokens ------------------------------------------------------


def _as(kube, kubectl, sa: str) -> client.ApiClient:
    token = kubectl("create", "token", sa, "-n", NS, "--duration=10m").stdout.strip()
    cfg = client.Configuration()
    cfg.host = kube.configuration.host
    cfg.ssl_ca_cert = kube.configuration.ssl_ca_cert
    cfg.api_key = {"authorization": f"Bearer {token}"}
    return client.ApiClient(cfg)


def _status(call) -> int:
    try:
        call()
    except client.ApiException as exc:
        return exc.status
    return 200


def test_controller_token_reads_services_but_cannot_delete_them_or_read_secrets(
    rbac, kube, kubectl, namespace
):
    core_admin = client.CoreV1Api(kube)
    core_admin.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "web"},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"a": "b"}},
        },
    )
    assert _wait_allowed(kube, "controller", "list", "services", None)
    core = client.CoreV1Api(_as(kube, kubectl, "controller"))

    assert "web" in [s.metadata.name for s in core.list_service_for_all_namespaces().items]
    patch = {
        "metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": "first-pool"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.50"}]}},
    }
    patched = core.patch_namespaced_service_status("web", namespace, patch)
    assert patched.status.load_balancer.ingress[0].ip == "192.0.2.50"
    assert patched.metadata.annotations["metallb.io/ip-allocated-from-pool"] == "first-pool"

    assert _status(lambda: core.delete_namespaced_service("web", namespace)) == 403
    assert _status(lambda: core.list_namespaced_secret(namespace)) == 403
    assert _status(lambda: core.list_namespaced_secret(NS)) == 403
    # resourceNames: the memberlist Secret may be listed by name (empty when it does not exist yet)
    assert _status(lambda: core.list_namespaced_secret(NS, field_selector="metadata.name=memberlist")) == 200


@pytest.mark.parametrize(
    ("kind", "where"),
    [(L2_STATUS_KIND, ["eth0"]), (BGP_STATUS_KIND, ["peer-a", "peer-b"])],
    ids=["ServiceL2Status", "ServiceBGPStatus"],
)
def test_speaker_token_writes_its_status_objects(rbac, kube, kubectl, namespace, kind, where):
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=bmlb-tests", "-f", str(CRD_DIR))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{kind.metallb.resource_name}")
    assert _wait_allowed(kube, "speaker", "create", f"metallb.io/{kind.metallb.plural}", NS)
    speaker = _as(kube, kubectl, "speaker")
    crs = client.CustomObjectsApi(speaker)
    args = (GROUP, kind.metallb.version, NS, kind.metallb.plural)
    service = f"{namespace}/web"
    created = crs.create_namespaced_custom_object(
        *args,
        {
            "apiVersion": kind.metallb.api_version,
            "kind": kind.metallb.kind,
            "metadata": {"generateName": kind.generate_name, "labels": status_labels(service, "node1")},
        },
    )
    name = created["metadata"]["name"]
    try:
        status = kind.status(service, "node1", where)
        crs.patch_namespaced_custom_object_status(*args, name, {"status": status})
        assert crs.get_namespaced_custom_object(*args, name)["status"] == status
    finally:
        crs.delete_namespaced_custom_object(*args, name)


def test_speaker_token_writes_its_bgp_session_states(rbac, kube, kubectl):
    kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=bmlb-tests", "-f", str(CRD_DIR))
    kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{BGP_SESSION_STATE.resource_name}")
    assert _wait_allowed(kube, "speaker", "create", f"{FRRK8S_GROUP}/{BGP_SESSION_STATE.plural}", NS)
    crs = client.CustomObjectsApi(_as(kube, kubectl, "speaker"))
    args = (FRRK8S_GROUP, BGP_SESSION_STATE.version, NS, BGP_SESSION_STATE.plural)
    state = SessionState("node1", f"rbac-{uuid.uuid4().hex[:6]}", "2001:db8::1", "Established", "Up")
    body = session_object(state, NS)
    status = body.pop("status")
    created = crs.create_namespaced_custom_object(*args, body)
    name = created["metadata"]["name"]
    try:
        crs.patch_namespaced_custom_object_status(*args, name, {"status": status})
        assert crs.get_namespaced_custom_object(*args, name)["status"] == status
    finally:
        crs.delete_namespaced_custom_object(*args, name)


def test_speaker_token_reads_nodes_but_writes_no_configuration_nor_reads_other_secrets(
    rbac, kube, kubectl, namespace
):
    assert _wait_allowed(kube, "speaker", "list", "nodes", None)
    speaker = _as(kube, kubectl, "speaker")
    crs = client.CustomObjectsApi(speaker)
    core = client.CoreV1Api(speaker)
    assert len(core.list_node().items) >= 1
    pool = {
        "apiVersion": IP_ADDRESS_POOL.api_version,
        "kind": IP_ADDRESS_POOL.kind,
        "metadata": {"name": "nope"},
        "spec": {"addresses": ["192.0.2.0/28"]},
    }
    assert (
        _status(
            lambda: crs.create_namespaced_custom_object(
                GROUP, IP_ADDRESS_POOL.version, NS, IP_ADDRESS_POOL.plural, pool
            )
        )
        == 403
    )
    assert _status(lambda: core.list_namespaced_secret(namespace)) == 403
    assert _status(core.list_secret_for_all_namespaces) == 403
    assert _status(lambda: core.list_namespaced_secret(NS)) == 200


def test_speaker_token_reads_services_but_cannot_write_them(rbac, kube, kubectl, namespace):
    core_admin = client.CoreV1Api(kube)
    spec = {"type": "LoadBalancer", "ports": [{"port": 80}], "selector": {"a": "b"}}
    core_admin.create_namespaced_service(namespace, {"metadata": {"name": "web"}, "spec": spec})
    assert _wait_allowed(kube, "speaker", "list", "services", None)
    core = client.CoreV1Api(_as(kube, kubectl, "speaker"))

    assert "web" in [s.metadata.name for s in core.list_namespaced_service(namespace).items]
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.51"}]}}}
    assert _status(lambda: core.patch_namespaced_service_status("web", namespace, ingress)) == 403
    label = {"metadata": {"labels": {"touched-by": "speaker"}}}  # a harmless write, if it were allowed
    assert _status(lambda: core.patch_namespaced_service("web", namespace, label)) == 403
    assert _status(lambda: core.delete_namespaced_service("web", namespace)) == 403
    other = {"metadata": {"name": "web2"}, "spec": spec}
    assert _status(lambda: core.create_namespaced_service(namespace, other)) == 403
    status = core_admin.read_namespaced_service_status("web", namespace).status
    assert not (status.load_balancer and status.load_balancer.ingress), "the speaker's write was refused"


def test_controller_token_cannot_read_or_touch_nodes(rbac, kube, kubectl):
    assert _wait_allowed(kube, "controller", "list", "services", None)
    node = client.CoreV1Api(kube).list_node().items[0].metadata.name
    core = client.CoreV1Api(_as(kube, kubectl, "controller"))

    assert _status(core.list_node) == 403
    assert _status(lambda: core.read_node(node)) == 403
    # harmless if it were allowed (an annotation), so a broken role cannot break the lab's nodes;
    # a delete is tried as a server-side dry run only
    mark = {"metadata": {"annotations": {"baremetal.lb/rbac-test": "controller"}}}
    assert _status(lambda: core.patch_node(node, mark)) == 403
    assert _status(lambda: core.patch_node_status(node, mark)) == 403
    assert _status(lambda: core.delete_node(node, dry_run="All")) == 403
