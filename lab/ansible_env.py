"""The environment the lab's Ansible, molecule and ansible-runner runs start with.

Only what a run is given may point it at a cluster: the caller's ``K8S_AUTH_*`` and ``KUBECONFIG``
would otherwise take precedence over the lab's kubeconfig in every ``kubernetes.core`` task. This
venv's ``bin`` goes first on ``PATH``, so what a run starts (ansible-galaxy, ansible-playbook under
molecule) is this venv's too.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
CLUSTER_POINTERS = ("K8S_AUTH_", "KUBECONFIG")


def ansible_env(
    *, base: Mapping[str, str] | None = None, drop: Sequence[str] = (), **settings: str
) -> dict[str, str]:
    """The environment for one run: ``base``, ``PATH`` and ``settings``.

    ``base`` (this process's environment by default) without the variables that point at a
    cluster or start with a prefix in ``drop``, with this venv's ``bin`` first on ``PATH``, then
    ``settings`` (which win over both).
    """
    prefixes = CLUSTER_POINTERS + tuple(drop)
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith(prefixes)}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(settings)
    return env
