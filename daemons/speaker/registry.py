"""The announcement protocols the speaker runs: one entry per protocol.

Each entry builds a :class:`.handler.ProtocolHandler` from the speaker's context. Adding a
protocol is adding its handler package under ``daemons/speaker/``, its pure planner
under ``plugins/module_utils/`` and one line here.
"""

from __future__ import annotations

from collections.abc import Callable

from .bgp.handler import BGPHandler
from .handler import ProtocolHandler, SpeakerContext
from .layer2.handler import Layer2Handler

PROTOCOLS: tuple[Callable[[SpeakerContext], ProtocolHandler], ...] = (Layer2Handler, BGPHandler)
