"""The speaker's BGP engine, a child process of its own, logs every line in the daemons' JSON shape.

The engine runs as the speaker runs it (``python -m …bgp.engine``, orders on stdin, reports on
stdout, logs on stderr) inside a namespace of the LAN, with one peer whose address refuses the
connection and a BFD profile, so it logs from the engine, its BGP sessions and BFD; stopping it
logs the shutdown. Every stderr line must parse as one JSON object that starts with ``ts``,
``level``, ``logger`` and ``msg`` (the controller's and the speaker's shape, issue 11).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ansible_collections.baremetal.lb.daemons.speaker.bfd.settings import BFDSettings
from ansible_collections.baremetal.lb.daemons.speaker.bgp.model import PeerSettings
from ansible_collections.baremetal.lb.daemons.speaker.bgp.orders import PeerOrder

from .conftest import PYTHON, Agent, Lan, wait_for

ENGINE = "ansible_collections.baremetal.lb.daemons.speaker.bgp.engine"
SHAPE = ["ts", "level", "logger", "msg"]


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip()]


def test_the_bgp_engine_logs_every_line_in_the_daemons_json_shape(lan: Lan, tmp_path: Path) -> None:
    node, silent = lan.add_host("node"), lan.add_host("silent")  # nothing listens on silent's port 179
    stderr = tmp_path / "engine.stderr"
    with stderr.open("w") as err:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", node.netns, PYTHON, "-m", ENGINE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    lan.pids.append(proc.pid)
    engine = Agent(proc)
    engine.send({"start": {"log_level": "info"}})
    assert engine.read(30) == {"ready": True}
    peer = PeerSettings(
        name="silent",
        my_asn=64512,
        peer_asn=64500,
        peer_address=silent.ipv4,
        router_id=node.ipv4,
        hold_time=3,
        connect_time=1.0,
    )
    engine.send({"peers": [PeerOrder(peer, BFDSettings()).to_json()]})
    wait_for(
        "the engine's log lines about the BFD session and the refused BGP connection",
        lambda: "bfd session to " in stderr.read_text() and "bgp peer silent: " in stderr.read_text(),
        timeout=20,
    )
    assert proc.stdin is not None
    proc.stdin.close()  # the parent is gone: the engine stops its sessions and exits
    assert proc.wait(timeout=10) == 0

    lines = _lines(stderr)
    assert any("stopping every BGP session" in line for line in lines), lines
    loggers = set()
    for text in lines:
        line = json.loads(text)  # one JSON object per line, nothing else on stderr
        assert list(line)[:4] == SHAPE, line
        assert line["ts"].endswith("+00:00") and line["level"] in {"debug", "info", "warning", "error"}, line
        loggers.add(line["logger"])
    assert ENGINE in loggers, loggers  # named after the module, not __main__
    assert all(name.startswith("ansible_collections.baremetal.lb.daemons.") for name in loggers), loggers
