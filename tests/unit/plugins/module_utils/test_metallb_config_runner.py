"""metallb_config keeps BGP passwords inside ``config`` out of the invocation it logs.

Ansible logs every module's invocation to the managed host's journal or syslog, masking the
values of ``no_log`` options; ``config``'s entries are free-form dicts to it, so a plain
AnsibleModule logs their passwords in clear (the first case shows that this test can fail).
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic

from ansible_collections.baremetal.lb.plugins.module_utils import metallb_config_runner

PASSWORD = "pw-unit-5f3a9c"
PEER = {"name": "tor", "my_asn": 64512, "peer_asn": 64513, "peer_address": "192.0.2.1", "password": PASSWORD}


def _logged_invocation(monkeypatch: pytest.MonkeyPatch, module_class: type) -> str:
    args = {"ANSIBLE_MODULE_ARGS": {"state": "rendered", "config": {"bgp_peers": [PEER]}}}
    monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps(args).encode())
    monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy")
    logged: list[str] = []

    class Recording(module_class):  # type: ignore[misc,valid-type]
        def log(self, msg: str, log_args: object = None) -> None:
            logged.append(msg)

    Recording(argument_spec=dict(metallb_config_runner.ARGUMENT_SPEC))
    (line,) = logged
    return line


@pytest.mark.parametrize(
    ("module_class", "shows_password"),
    [(basic.AnsibleModule, True), (metallb_config_runner.ConfigModule, False)],
    ids=["plain AnsibleModule", "metallb_config's module"],
)
def test_the_logged_invocation_masks_passwords_inside_config(monkeypatch, module_class, shows_password):
    line = _logged_invocation(monkeypatch, module_class)
    assert "tor" in line, line
    assert (PASSWORD in line) == shows_password, line
    if not shows_password:
        assert "'password': '********'" in line, line


def test_secret_values_are_the_no_log_options_of_every_entry():
    config = {"bgp_peers": [PEER, {"name": "b", "password_secret": {"name": "s"}}], "pools": [{"name": "p"}]}
    assert metallb_config_runner.secret_values(config) == {PASSWORD}
    assert metallb_config_runner.secret_values(None) == set()
