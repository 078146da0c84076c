"""Load a kubeconfig file without writing anything to the filesystem.

The ``kubernetes`` client writes a kubeconfig's embedded certificates and key
(``certificate-authority-data``, ``client-certificate-data``, ``client-key-data``) to temp files,
because Python's :mod:`ssl` loads them only from paths. On a read-only root filesystem (a pod's
``readOnlyRootFilesystem``, a unit's ``ProtectSystem=strict`` without a private /tmp) that write
fails and the daemon dies before it starts. Here each embedded item goes into an anonymous
in-memory file (``memfd_create``) instead, and the client is given its ``/proc/self/fd/N`` path;
the files live, unlinked and unwritable by anyone else, as long as the process.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.config.kube_config import KubeConfigLoader

# (section of the kubeconfig, key inside each entry of it, file key the *-data key stands for)
_EMBEDDED = (
    ("clusters", "cluster", "certificate-authority"),
    ("users", "user", "client-certificate"),
    ("users", "user", "client-key"),
)

# The in-memory files handed out so far: they must stay open while the client may reconnect.
_OPEN: list[int] = []


def load(path: str, configuration: client.Configuration) -> None:
    """Set ``configuration`` from the kubeconfig at ``path`` (its current context).

    Relative file paths in the kubeconfig are taken from the kubeconfig's directory, as the
    client and kubectl take them.
    """
    document: dict[str, Any] = yaml.safe_load(Path(path).read_text()) or {}
    for section, entry_key, file_key in _EMBEDDED:
        for entry in document.get(section) or []:
            _in_memory((entry or {}).get(entry_key) or {}, file_key)
    loader = KubeConfigLoader(  # type: ignore[no-untyped-call]
        config_dict=document, config_base_path=str(Path(path).resolve().parent)
    )
    loader.load_and_set(configuration)  # type: ignore[no-untyped-call]


def _in_memory(entry: dict[str, Any], file_key: str) -> None:
    """Replace ``entry[file_key + "-data"]`` (base64) by ``entry[file_key]``, an in-memory file."""
    data = entry.pop(f"{file_key}-data", None)
    if not data:
        return
    fd = os.memfd_create(file_key, os.MFD_CLOEXEC)
    os.write(fd, base64.b64decode(data))
    _OPEN.append(fd)
    entry[file_key] = f"/proc/self/fd/{fd}"
