"""Structured logs of every daemon process: one JSON object per line, the same field names everywhere.

A line has ``ts``, ``level``, ``logger`` and ``msg``, then each field the call passed with
``extra={...}`` (``service``, ``ip``, ``ips``, ``node``, ``interfaces``, ``pool``, ``reason``, …)
as a top-level key, then ``exception`` (the traceback) and ``stack`` when the record has them.
``json.dumps`` writes the line, so a Service name or message with a quote, a newline or non-ASCII
text stays one line that parses; the output is plain ASCII whatever the terminal's encoding.
Python's own output on stderr goes through the same lines: warnings (logger ``py.warnings``)
and an exception nobody caught, in the main thread or another one (with its traceback).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

# What every LogRecord carries by itself; any other attribute came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def _jsonable(value: object) -> object:
    """What json.dumps writes for a value it has no JSON form for: sets sorted, the rest as str."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _dumpable(value: object) -> object:
    """``value`` when json.dumps can write it, else its str."""
    try:
        json.dumps(value, default=_jsonable)
    except (TypeError, ValueError):
        return str(value)
    return value


class JsonFormatter(logging.Formatter):
    """Format a record as ``{"ts", "level", "logger", "msg", ...extra fields, "exception"}``."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES:
                # A field named like one of the line's own keys must not overwrite it.
                line[f"extra_{name}" if name in line else name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        try:
            return json.dumps(line, default=_jsonable)
        except (TypeError, ValueError):  # e.g. a dict with tuple keys, or one that contains itself
            return json.dumps({name: _dumpable(value) for name, value in line.items()}, default=_jsonable)


def configure_logs(level: str) -> None:
    """Send JSON lines at ``level`` (debug, info, warning, error) and above to stderr.

    Every daemon process calls this once at start (the controller, the speaker and the speaker's
    engine child), so all their lines have the same shape.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], value: BaseException, traceback: TracebackType | None) -> None:
    """Log an exception nobody caught as one line (Python would print a bare traceback)."""
    logging.getLogger(__name__).critical(
        "uncaught %s: %s", kind.__name__, value, exc_info=(kind, value, traceback)
    )


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    """Log an exception that ended a thread as one line; a thread's SystemExit stays silent."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread else "?"
    logging.getLogger(__name__).critical(
        "thread %s ended by uncaught %s: %s",
        name,
        args.exc_type.__name__,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback),
    )
