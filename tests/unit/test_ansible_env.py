"""What the lab's Ansible, molecule and ansible-runner runs start with (lab/ansible_env.py).

Seven callers rely on it: a run that inherited the caller's K8S_AUTH_* or KUBECONFIG would talk to
that cluster instead of the lab, and one without this venv first on PATH would start another
ansible-galaxy or ansible-playbook.
"""

from __future__ import annotations

import os

import pytest

from lab.ansible_env import VENV_BIN, ansible_env

BASE = {
    "HOME": "/root",
    "PATH": "/usr/bin",
    "K8S_AUTH_KUBECONFIG": "/elsewhere/kubeconfig",
    "K8S_AUTH_HOST": "https://elsewhere:6443",
    "KUBECONFIG": "/elsewhere/config",
    "ANSIBLE_CONFIG": "/elsewhere/ansible.cfg",
    "MOLECULE_EPHEMERAL_DIRECTORY": "/elsewhere/molecule",
}

CASES = [
    # (drop, settings, kept, gone)
    (
        (),
        {},
        {"HOME", "ANSIBLE_CONFIG", "MOLECULE_EPHEMERAL_DIRECTORY"},
        {"K8S_AUTH_KUBECONFIG", "K8S_AUTH_HOST", "KUBECONFIG"},
    ),
    (
        ("ANSIBLE_", "MOLECULE_"),
        {},
        {"HOME"},
        {"K8S_AUTH_HOST", "KUBECONFIG", "ANSIBLE_CONFIG", "MOLECULE_EPHEMERAL_DIRECTORY"},
    ),
    (
        ("MOLECULE_",),
        {"MOLECULE_EPHEMERAL_DIRECTORY": "/mine"},
        {"MOLECULE_EPHEMERAL_DIRECTORY"},
        {"KUBECONFIG"},
    ),
]


@pytest.mark.parametrize(("drop", "settings", "kept", "gone"), CASES)
def test_nothing_of_the_caller_points_at_a_cluster_and_settings_win(
    drop: tuple[str, ...], settings: dict[str, str], kept: set[str], gone: set[str]
) -> None:
    env = ansible_env(base=BASE, drop=drop, **settings)
    assert kept <= env.keys(), f"lost {kept - env.keys()}"
    assert not gone & env.keys(), f"kept {gone & env.keys()}"
    assert all(env[name] == value for name, value in settings.items())


def test_this_venv_comes_first_on_path() -> None:
    assert ansible_env(base=BASE)["PATH"] == f"{VENV_BIN}{os.pathsep}/usr/bin"


def test_a_setting_may_point_the_run_at_the_lab() -> None:
    env = ansible_env(base=BASE, K8S_AUTH_KUBECONFIG="/lab/kubeconfig")
    assert env["K8S_AUTH_KUBECONFIG"] == "/lab/kubeconfig" and "K8S_AUTH_HOST" not in env


def test_the_callers_environment_is_the_default_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", "/elsewhere/config")
    monkeypatch.setenv("BMLB_MARK", "1")
    env = ansible_env()
    assert env["BMLB_MARK"] == "1" and "KUBECONFIG" not in env
