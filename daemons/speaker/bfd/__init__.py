"""BFD (RFC 5880/5881), single-hop asynchronous mode, for the speaker's timing-critical process.

:mod:`.packet` is the Control packet codec, :mod:`.session` the per-session state machine (pure:
no sockets, no clock), :mod:`.settings` the profile and what is refused, :mod:`.transport` the
RFC 5881 sockets and :mod:`.engine` the thread that runs every session (:class:`.engine.BFDEngine`).
"""
