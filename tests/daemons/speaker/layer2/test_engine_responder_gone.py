"""An engine whose responder thread has ended exits instead of running on with nobody answering."""

from __future__ import annotations

import io

from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine import Engine
from ansible_collections.baremetal.lb.daemons.speaker.layer2.engine_messages import StartOrder
from tests.daemons.speaker.conftest import run_in_thread

BOUND = 3.0  # seconds: the engine looks at the responder on every turn, at least once a second


def test_the_engine_exits_soon_after_its_responder_thread_ends() -> None:
    order = StartOrder(
        node="n1",
        key=bytes(32),
        bind=("127.0.0.1", 0),
        peers={},
        interval=0.1,
        dead_after=0.3,
        watch_links=(),
    )
    engine = Engine(order, io.BytesIO())
    runner, ended = run_in_thread(engine.run)
    engine._responder.stop()  # white box: the responder thread ends while the engine runs on
    runner.join(BOUND)
    assert not runner.is_alive(), f"the engine still runs {BOUND} s after its responder ended"
    assert [str(err) for err in ended] == ["the responder thread has ended; nobody answers ARP/NDP"]
