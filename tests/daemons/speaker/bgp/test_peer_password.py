"""BGPPeer passwords come from the speaker's cache of its own namespace's Secrets, not the API.

A changed Secret re-plans (the speaker's Secret informer), and only the peers using that Secret
get new settings, so only their sessions reset (BGPSpeaker.set_peers resets changed peers).
"""

from __future__ import annotations

import base64

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.app import secret_data_changed
from ansible_collections.baremetal.lb.daemons.speaker.bgp.handler import PeerRefused, peer_password
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import BGPPeer

NS = "metallb-system"


def _secret(name, data, version="1", labels=None):
    return {"metadata": {"name": name, "resourceVersion": version, "labels": labels or {}}, "data": data}


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _peer(name, password="", secret=None):
    return BGPPeer(name, 64500, 64512, password=password, password_secret=secret)


class _Cache:
    """The speaker's Secret cache as the handler sees it, counting look-ups."""

    def __init__(self, *secrets):
        self.secrets = {s["metadata"]["name"]: s for s in secrets}
        self.lookups = 0

    def __call__(self, name):
        self.lookups += 1
        return self.secrets.get(name)


@pytest.mark.parametrize(
    ("peer", "secrets", "expected"),
    [
        (_peer("p", password="inline"), [], "inline"),
        (_peer("p"), [], ""),  # no password at all
        (_peer("p", secret=("bgp-a", NS)), [_secret("bgp-a", {"password": _b64("k1")})], "k1"),
        (_peer("p", secret=("bgp-a", "")), [_secret("bgp-a", {"password": _b64("k1")})], "k1"),
    ],
)
def test_the_password_is_inline_or_the_secret_s_password_key(peer, secrets, expected):
    assert peer_password(peer, _Cache(*secrets), NS) == expected


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ([], "passwordSecret metallb-system/bgp-a does not exist; create it"),
        ([_secret("bgp-a", {"other": _b64("k1")})], "has no key 'password'; add it"),
        ([_secret("bgp-a", {"password": "%%%"})], "key 'password' is not text"),  # not base64
        ([_secret("bgp-a", {"password": "/w=="})], "key 'password' is not text"),  # 0xff: not UTF-8
    ],
)
def test_a_secret_that_cannot_give_a_password_refuses_the_peer_without_showing_it(secrets, message):
    with pytest.raises(PeerRefused) as refused:
        peer_password(_peer("p", secret=("bgp-a", NS)), _Cache(*secrets), NS)
    assert message in str(refused.value)
    assert "%%%" not in str(refused.value)


def test_a_changed_secret_changes_only_the_peers_that_use_it():
    peers = [_peer("a", secret=("bgp-a", NS)), _peer("b", secret=("bgp-b", NS)), _peer("c", password="x")]
    cache = _Cache(_secret("bgp-a", {"password": _b64("k1")}), _secret("bgp-b", {"password": _b64("k2")}))
    before = {p.name: peer_password(p, cache, NS) for p in peers}
    cache.secrets["bgp-a"] = _secret("bgp-a", {"password": _b64("k1-rotated")}, version="2")
    after = {p.name: peer_password(p, cache, NS) for p in peers}
    assert {name for name in before if before[name] != after[name]} == {"a"}
    assert cache.lookups == 4  # the cache, once per peer with a Secret per plan: no API request


@pytest.mark.parametrize(
    ("old", "new", "replan"),
    [
        (None, _secret("s", {"password": "YQ=="}), True),  # created
        (_secret("s", {"password": "YQ=="}), None, True),  # deleted
        (_secret("s", {"password": "YQ=="}), _secret("s", {"password": "Yg=="}, "2"), True),  # rotated
        (_secret("s", {"password": "YQ=="}), _secret("s", {"password": "YQ=="}, "2", {"x": "y"}), False),
    ],
    ids=["created", "deleted", "rotated", "relabelled"],
)
def test_a_secret_event_replans_when_it_can_change_a_password(old, new, replan):
    assert secret_data_changed(old, new) is replan
