"""The controller's JSON log lines, plus the fields a speaker line is about: node, ip, interfaces."""

from __future__ import annotations

import json
import logging

from ..kube.logs import JsonFormatter, configure

_FIELDS = ("node", "ip", "interfaces", "members")


class _SpeakerFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        line = json.loads(super().format(record))
        line.update({name: getattr(record, name) for name in _FIELDS if hasattr(record, name)})
        return json.dumps(line, default=str)


def configure_logs(level: str) -> None:
    """JSON lines at ``level`` and above to stderr, with the speaker's fields."""
    configure(level)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(_SpeakerFormatter())
