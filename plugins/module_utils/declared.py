"""What a module shows of an object in its diff: the parts the user declares, no server bookkeeping.

One function for every module's diff, so none shows ``managedFields``, ``resourceVersion``,
``uid``, timestamps or ``status``: the name, namespace and labels, the annotations the module
manages, and the spec (or the part of it the module declares). Pure data, no I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping
from typing import Any

Object = dict[str, Any]


def content(
    obj: Mapping[str, Any] | None,
    annotations: Collection[str] = (),
    spec: Callable[[Mapping[str, Any]], Object] | None = None,
) -> Object:
    """The declared part of ``obj``: name, namespace, labels, the listed ``annotations``, and the spec.

    ``spec`` picks the declared part of the spec when the server fills in more (a Service's
    cluster IPs, say); without it the whole spec is kept. An absent object is ``{}``.
    """
    if not obj:
        return {}
    metadata = obj.get("metadata") or {}
    kept: Object = {"name": metadata.get("name"), "namespace": metadata.get("namespace")}
    if metadata.get("labels"):
        kept["labels"] = dict(metadata["labels"])
    managed = {key: value for key, value in (metadata.get("annotations") or {}).items() if key in annotations}
    if managed:
        kept["annotations"] = managed
    full = obj.get("spec") or {}
    return {"metadata": kept, "spec": spec(full) if spec else copy.deepcopy(full)}
