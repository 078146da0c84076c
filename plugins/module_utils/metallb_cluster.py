"""The metallb.io objects of one namespace, read and written through the Kubernetes client.

Used by the modules that manage or report on the configuration (:mod:`.metallb_runner`,
:mod:`.legacy_runner`, :mod:`.lb_info_reader`); which kinds exist, and at which version and
plural, comes from :mod:`.metallb_kinds`.
"""

from __future__ import annotations

import json
from typing import Any

try:
    from kubernetes import client
except ImportError:  # modules report the missing library through kubernetes.core's requires()
    client = None

from .ansible_k8s import DRY_RUN_ALL, FIELD_MANAGER
from .metallb_kinds import CONFIG_KINDS, MetallbKind

Object = dict[str, Any]

_APPLY_PATCH = "application/apply-patch+yaml"


class MetallbCluster:
    """The metallb.io objects of ``namespace``, through ``CustomObjectsApi`` of client ``api``.

    Every call reads or writes the kind's storage version; API errors are raised as the
    client's ``ApiException`` for the caller to explain.
    """

    def __init__(self, api: Any, namespace: str) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace

    def objects(self, kind: MetallbKind) -> list[Object]:
        """The namespace's objects of ``kind``, each with its ``kind`` set."""
        listed: Object = self.custom.list_namespaced_custom_object(
            kind.group, kind.version, self.namespace, kind.plural
        )
        return [{**item, "kind": kind.kind} for item in listed.get("items") or []]

    def list_all(self) -> list[Object]:
        """Every metallb.io configuration object of the namespace, each with its ``kind``."""
        return [obj for kind in CONFIG_KINDS for obj in self.objects(kind)]

    def apply(self, kind: MetallbKind, obj: Object, dry_run: bool) -> Object:
        """Server-side apply ``obj`` as this collection's field manager, taking over conflicts.

        The raw response is decoded here: the generated client maps only status 200 to a body,
        and an apply that creates the object answers 201.
        """
        response = self.custom.patch_namespaced_custom_object(
            kind.group,
            kind.version,
            self.namespace,
            kind.plural,
            obj["metadata"]["name"],
            obj,
            dry_run=DRY_RUN_ALL if dry_run else None,
            field_manager=FIELD_MANAGER,
            force=True,
            _content_type=_APPLY_PATCH,
            _preload_content=False,
        )
        result: Object = json.loads(response.data)
        return result

    def delete(self, kind: MetallbKind, name: str, dry_run: bool) -> None:
        """Delete the object (a server-side dry run when ``dry_run``)."""
        self.custom.delete_namespaced_custom_object(
            kind.group,
            kind.version,
            self.namespace,
            kind.plural,
            name,
            dry_run=DRY_RUN_ALL if dry_run else None,
        )
