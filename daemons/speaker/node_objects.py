"""One node's objects of one namespaced collection: what the status writers list and delete.

Each speaker writes only its own node's objects (ServiceL2Status, ServiceBGPStatus,
BGPSessionState), found by a node label; deleting one that is already gone is no error.
"""

from __future__ import annotations

import logging

from ..kube.kubeapi import JSON, ApiError, KubeApi, Resource

log = logging.getLogger(__name__)


class NodeObjects:
    """The objects of ``resource`` in ``namespace`` whose label ``label`` is ``node``."""

    def __init__(self, api: KubeApi, resource: Resource, namespace: str, label: str, node: str) -> None:
        self._api = api
        self._resource = resource
        self._namespace = namespace
        self._selector = f"{label}={node}"

    def list(self) -> list[JSON]:
        """The node's objects, as the API server has them now."""
        answer = self._api.request("GET", self._resource.collection(), {"labelSelector": self._selector})
        items: list[JSON] = answer.get("items") or []
        return items

    def delete(self, name: str) -> None:
        """Delete one object; already gone is fine."""
        try:
            self._api.request("DELETE", self._resource.item(self._namespace, name))
        except ApiError as error:
            if not error.not_found:
                raise

    def delete_all(self, what: str) -> None:
        """Delete every one of this node's objects (on a graceful stop); errors are only logged."""
        try:
            for item in self.list():
                self.delete(str(item["metadata"]["name"]))
        except Exception as error:  # best effort on the way out
            log.warning("could not delete %s objects: %s", what, error)
