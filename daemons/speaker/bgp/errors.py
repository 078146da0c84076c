"""BGP NOTIFICATION codes (RFC 4271 §4.5, §6; RFC 4486 and RFC 9003 for Cease) as readable reasons.

:class:`BGPError` is what every decoder raises on malformed input: it carries the code, subcode
and data of the NOTIFICATION the session must send, so a malformed message never escapes as an
unhandled exception.
"""

from __future__ import annotations

MESSAGE_HEADER = 1
OPEN_MESSAGE = 2
UPDATE_MESSAGE = 3
HOLD_TIMER_EXPIRED = 4
FSM_ERROR = 5
CEASE = 6
ROUTE_REFRESH_MESSAGE = 7

# Header subcodes
CONNECTION_NOT_SYNCHRONIZED = 1
BAD_MESSAGE_LENGTH = 2
BAD_MESSAGE_TYPE = 3
# OPEN subcodes
UNSUPPORTED_VERSION = 1
BAD_PEER_AS = 2
BAD_BGP_IDENTIFIER = 3
UNSUPPORTED_OPTIONAL_PARAMETER = 4
UNACCEPTABLE_HOLD_TIME = 6
UNSUPPORTED_CAPABILITY = 7
# UPDATE subcodes
MALFORMED_ATTRIBUTE_LIST = 1
UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
MISSING_WELL_KNOWN_ATTRIBUTE = 3
ATTRIBUTE_FLAGS_ERROR = 4
ATTRIBUTE_LENGTH_ERROR = 5
INVALID_ORIGIN = 6
INVALID_NEXT_HOP = 8
OPTIONAL_ATTRIBUTE_ERROR = 9
INVALID_NETWORK_FIELD = 10
MALFORMED_AS_PATH = 11
# Cease subcodes
ADMINISTRATIVE_SHUTDOWN = 2
PEER_DECONFIGURED = 3
ADMINISTRATIVE_RESET = 4
OTHER_CONFIGURATION_CHANGE = 6
CONNECTION_COLLISION_RESOLUTION = 7

_CODES = {
    MESSAGE_HEADER: "message header error",
    OPEN_MESSAGE: "OPEN message error",
    UPDATE_MESSAGE: "UPDATE message error",
    HOLD_TIMER_EXPIRED: "hold timer expired",
    FSM_ERROR: "finite state machine error",
    CEASE: "cease",
    ROUTE_REFRESH_MESSAGE: "ROUTE-REFRESH message error",
}

_SUBCODES = {
    MESSAGE_HEADER: {
        CONNECTION_NOT_SYNCHRONIZED: "connection not synchronized",
        BAD_MESSAGE_LENGTH: "bad message length",
        BAD_MESSAGE_TYPE: "bad message type",
    },
    OPEN_MESSAGE: {
        UNSUPPORTED_VERSION: "unsupported version number",
        BAD_PEER_AS: "bad peer AS",
        BAD_BGP_IDENTIFIER: "bad BGP identifier",
        UNSUPPORTED_OPTIONAL_PARAMETER: "unsupported optional parameter",
        UNACCEPTABLE_HOLD_TIME: "unacceptable hold time",
        UNSUPPORTED_CAPABILITY: "unsupported capability",
    },
    UPDATE_MESSAGE: {
        MALFORMED_ATTRIBUTE_LIST: "malformed attribute list",
        UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: "unrecognized well-known attribute",
        MISSING_WELL_KNOWN_ATTRIBUTE: "missing well-known attribute",
        ATTRIBUTE_FLAGS_ERROR: "attribute flags error",
        ATTRIBUTE_LENGTH_ERROR: "attribute length error",
        INVALID_ORIGIN: "invalid ORIGIN attribute",
        INVALID_NEXT_HOP: "invalid NEXT_HOP attribute",
        OPTIONAL_ATTRIBUTE_ERROR: "optional attribute error",
        INVALID_NETWORK_FIELD: "invalid network field",
        MALFORMED_AS_PATH: "malformed AS_PATH",
    },
    FSM_ERROR: {
        1: "unexpected message in OpenSent",
        2: "unexpected message in OpenConfirm",
        3: "unexpected message in Established",
    },
    CEASE: {
        1: "maximum number of prefixes reached",
        ADMINISTRATIVE_SHUTDOWN: "administrative shutdown",
        PEER_DECONFIGURED: "peer de-configured",
        ADMINISTRATIVE_RESET: "administrative reset",
        5: "connection rejected",
        OTHER_CONFIGURATION_CHANGE: "other configuration change",
        CONNECTION_COLLISION_RESOLUTION: "connection collision resolution",
        8: "out of resources",
        9: "hard reset",
        10: "BFD down",
    },
    ROUTE_REFRESH_MESSAGE: {1: "invalid message length"},
}


def describe(code: int, subcode: int) -> str:
    """A NOTIFICATION's code and subcode as a readable reason, e.g. ``cease/administrative shutdown``."""
    name = _CODES.get(code, f"unknown error code {code}")
    if subcode == 0 and code in (HOLD_TIMER_EXPIRED, CEASE):
        return name
    sub = _SUBCODES.get(code, {}).get(subcode, f"subcode {subcode}" if subcode else "unspecific")
    return f"{name}/{sub}"


class BGPError(Exception):
    """A protocol error: the NOTIFICATION (code, subcode, data) to send, with a readable reason."""

    def __init__(self, code: int, subcode: int = 0, data: bytes = b"", detail: str = "") -> None:
        self.code, self.subcode, self.data, self.detail = code, subcode, data, detail
        super().__init__(self.reason)

    @property
    def reason(self) -> str:
        """The readable reason, with the detail that found it."""
        text = describe(self.code, self.subcode)
        return f"{text} ({self.detail})" if self.detail else text


class TreatAsWithdraw(BGPError):
    """An UPDATE attribute error that RFC 7606 handles by withdrawing the UPDATE's routes."""
