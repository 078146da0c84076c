"""The speaker re-plans when links and addresses change: its rtnetlink watcher, on real links."""

from __future__ import annotations

from tests.netns.conftest import HOST_IF, Agent, Lan


def _quiet(agent: Agent, seconds: float) -> None:
    """Read wake-ups until ``seconds`` pass without one (bounded: 20 reads)."""
    for _unused in range(20):
        try:
            agent.read(timeout=seconds)
        except TimeoutError:
            return
    raise AssertionError("the watcher never went quiet")


def _wakes(agent: Agent) -> None:
    assert "changed" in agent.read(timeout=5)
    _quiet(agent, 0.3)  # one burst may take a second wake-up; the next step starts clean


def test_link_down_up_and_new_addresses_wake_the_speaker(lan: Lan) -> None:
    host = lan.add_host("a")
    agent = lan.start(host, "link_events_agent.py")
    _quiet(agent, 2.5)  # IPv6 duplicate address detection of the new host ends with notifications
    lan.run(host, "ip", "link", "set", HOST_IF, "down")
    _wakes(agent)
    lan.run(host, "ip", "link", "set", HOST_IF, "up")
    _wakes(agent)
    lan.run(host, "ip", "address", "add", "198.51.100.7/32", "dev", HOST_IF)
    _wakes(agent)
    lan.run(host, "ip", "address", "add", "2001:db8:7::7/128", "dev", HOST_IF, "nodad")
    _wakes(agent)
