"""A configuration change, or a new reason to refuse one, is news once."""

from ansible_collections.baremetal.lb.daemons.kube.config_loader import ConfigHistory
from ansible_collections.baremetal.lb.plugins.module_utils.config_model import Config
from ansible_collections.baremetal.lb.plugins.module_utils.pools import AddressPool

ONE = Config(pools=(AddressPool.from_strings("a", ["192.0.2.0/28"]),))
TWO = Config(pools=(AddressPool.from_strings("a", ["192.0.2.0/27"]),))


def test_each_change_and_each_new_refusal_is_news_once():
    history = ConfigHistory()
    steps = [
        ("loaded", ONE, True),
        ("loaded", ONE, False),  # a reload that yields what runs already
        ("loaded", TWO, True),
        ("rejected", ValueError("pool 'b' overlaps"), True),
        ("rejected", ValueError("pool 'b' overlaps"), False),  # still broken, same reason
        ("rejected", ValueError("pool 'c' overlaps"), True),
        ("loaded", TWO, True),  # fixed: back to the running one is news
        ("loaded", TWO, False),
    ]
    said = [getattr(history, what)(value) for what, value, _news in steps]
    assert said == [news for _what, _value, news in steps]
