"""A native BGP-4 speaker in asyncio: no Kubernetes here, only sessions and routes.

The engine process drives one :class:`BGPSpeaker`::

    speaker = BGPSpeaker(on_state_change=callback)   # callback(peer, old_state, new_state, reason)
    await speaker.set_peers([PeerSettings(...), ...])  # start new, stop removed, reset changed
    speaker.set_routes("peer-name", [Route(...), ...])  # the peer's whole Adj-RIB-Out; diffs are sent
    speaker.drop("peer-name", "BFD down")              # tear down now; reconnects after connect_time
    speaker.sessions()                                 # {peer: SessionStatus(state, counters, …)}
    await speaker.stop(graceful=True)                  # close without NOTIFICATION (graceful restart)

``BGPSpeaker(listen=["192.0.2.2"])`` also accepts peers that connect first. Modules, one job each:
:mod:`.model` (settings, routes, status), :mod:`.speaker` (the per-process object),
:mod:`.session` (one peer's FSM, timers and UPDATE flow), :mod:`.adj_rib_out` (the minimal
UPDATEs between what was sent and what is wanted), :mod:`.sockets` (bind, TTL, TCP MD5),
:mod:`.local_addresses` (next hops of the other family), and the wire codec: :mod:`.messages`,
:mod:`.update`, :mod:`.framing`, :mod:`.errors` (NOTIFICATION codes with readable reasons).
"""

from .model import DynamicASN, PeerSettings, Route, SessionStatus, State
from .speaker import BGPSpeaker

__all__ = ["BGPSpeaker", "DynamicASN", "PeerSettings", "Route", "SessionStatus", "State"]
