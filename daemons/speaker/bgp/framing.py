"""Reading whole BGP messages from a stream and decoding them by type."""

from __future__ import annotations

import asyncio

from . import errors, messages, update
from .errors import BGPError
from .messages import Keepalive, Notification, Open, RouteRefresh
from .update import Update

Message = Open | Update | Keepalive | Notification | RouteRefresh


def decode(kind: int, body: bytes, four_octet: bool = True) -> Message:
    """Decode a message body of a type already checked by :func:`.messages.parse_header`."""
    if kind == messages.OPEN:
        return messages.decode_open(body)
    if kind == messages.UPDATE:
        return update.decode_update(body, four_octet)
    if kind == messages.NOTIFICATION:
        return messages.decode_notification(body)
    if kind == messages.ROUTE_REFRESH:
        return messages.decode_route_refresh(body)
    return Keepalive()


async def read_message(reader: asyncio.StreamReader, four_octet: bool = True) -> Message:
    """The next message from the stream; raises BGPError (malformed) or IncompleteReadError (closed)."""
    length, kind = messages.parse_header(await reader.readexactly(messages.HEADER_LENGTH))
    body = await reader.readexactly(length) if length else b""
    return decode(kind, body, four_octet)


def decode_all(data: bytes, four_octet: bool = True) -> list[Message]:
    """Every message in a byte string (for tests and tools)."""
    out: list[Message] = []
    while data:
        if len(data) < messages.HEADER_LENGTH:
            raise BGPError(errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, detail="truncated header")
        length, kind = messages.parse_header(data[: messages.HEADER_LENGTH])
        end = messages.HEADER_LENGTH + length
        if end > len(data):
            raise BGPError(errors.MESSAGE_HEADER, errors.BAD_MESSAGE_LENGTH, detail="truncated message")
        out.append(decode(kind, data[messages.HEADER_LENGTH : end], four_octet))
        data = data[end:]
    return out
