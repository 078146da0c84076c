"""The daemons' log lines: one JSON object per line whatever the message or fields hold."""

from __future__ import annotations

import json
import logging
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from ansible_collections.baremetal.lb.daemons.kube.logs import JsonFormatter, configure_logs


def _fail(message: str) -> None:
    raise RuntimeError(message)


# (case, message format, args, extra, the msg the line must carry, fields it must carry)
CASES: list[tuple[str, str, tuple[Any, ...], dict[str, Any], str, dict[str, Any]]] = [
    (
        "plain",
        "assigned %s to %s",
        ("192.0.2.10", "shop/web"),
        {"service": "shop/web", "ips": ["192.0.2.10"], "pool": "public"},
        "assigned 192.0.2.10 to shop/web",
        {"service": "shop/web", "ips": ["192.0.2.10"], "pool": "public"},
    ),
    (
        "quotes in the message and a field",
        'service %s: pool "%s" is full',
        ('shop/we"b', "pu'blic"),
        {"service": 'shop/we"b', "reason": 'pool "public" is full'},
        'service shop/we"b: pool "pu\'blic" is full',
        {"service": 'shop/we"b', "reason": 'pool "public" is full'},
    ),
    (
        "newlines and a JSON-looking message",
        'first line\nsecond line {"level": "fake"}\r\n',
        (),
        {"reason": "line one\nline two"},
        'first line\nsecond line {"level": "fake"}\r\n',
        {"reason": "line one\nline two"},
    ),
    (
        "non-ASCII and control characters",
        "annonce de %s sur %s \x00\x1b[31m",
        ("2001:db8::1", "ethé0"),
        {"ip": "2001:db8::1", "node": "nœud-1", "interfaces": ("ethé0", "eth1")},
        "annonce de 2001:db8::1 sur ethé0 \x00\x1b[31m",
        {"ip": "2001:db8::1", "node": "nœud-1", "interfaces": ["ethé0", "eth1"]},
    ),
    (
        "values JSON has no form for",
        "members changed",
        (),
        {"members": {"node2", "node1"}, "since": 1.5, "count": 3, "mapping": {("a", 1): "x"}},
        "members changed",
        {"members": ["node1", "node2"], "since": 1.5, "count": 3, "mapping": "{('a', 1): 'x'}"},
    ),
    (
        "a field named like the line's own keys",
        "real message",
        (),
        {"level": "not-a-level", "ts": "then"},
        "real message",
        {"extra_level": "not-a-level", "extra_ts": "then"},
    ),
]


@pytest.mark.parametrize(
    ("message", "args", "extra", "msg", "fields"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_record_is_one_line_of_json_with_its_fields(
    message: str, args: tuple[Any, ...], extra: dict[str, Any], msg: str, fields: dict[str, Any]
) -> None:
    record = logging.LogRecord("baremetal.test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    out = JsonFormatter().format(record)
    assert "\n" not in out and "\r" not in out, out
    assert out.isascii(), out
    line = json.loads(out)
    assert {k: line[k] for k in ("level", "logger", "msg")} == {
        "level": "warning",
        "logger": "baremetal.test",
        "msg": msg,
    }
    assert {k: line.get(k) for k in fields} == fields
    assert set(extra) <= set(line) | {k.removeprefix("extra_") for k in line}


@pytest.fixture()
def root_logging() -> Iterator[None]:
    """Give the test the root logger and restore its handlers and level afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = sys.excepthook, threading.excepthook
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook = hooks
    logging.captureWarnings(False)


def test_configure_logs_writes_exceptions_with_their_traceback(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logs("info")
    log = logging.getLogger("baremetal.test")
    log.debug("below the level")
    try:
        _fail('bad "value"\nin two lines')
    except RuntimeError:
        log.exception("reconciling %s failed", "shop/web", extra={"service": "shop/web"})
    log.info("with a stack", stack_info=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2, lines
    failed, stacked = map(json.loads, lines)
    assert failed["msg"] == "reconciling shop/web failed" and failed["service"] == "shop/web"
    assert failed["level"] == "error"
    assert "Traceback (most recent call last)" in failed["exception"]
    assert 'RuntimeError: bad "value"\nin two lines' in failed["exception"]
    assert "test_configure_logs_writes_exceptions_with_their_traceback" in stacked["stack"]


def test_warnings_and_uncaught_exceptions_are_lines_of_the_same_shape(
    root_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logs("info")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("certificate not verified", stacklevel=1)
    try:
        _fail("the main loop broke")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # what Python calls for an exception nobody caught
    worker = threading.Thread(target=_fail, args=("the informer broke",), name="informer-services")
    worker.start()
    worker.join(timeout=10)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [list(line)[:4] for line in lines] == [["ts", "level", "logger", "msg"]] * 3, lines
    warned, main, thread = lines
    assert (warned["logger"], warned["level"]) == ("py.warnings", "warning")
    assert "UserWarning: certificate not verified" in warned["msg"]
    assert main["msg"] == "uncaught RuntimeError: the main loop broke"
    assert thread["msg"] == "thread informer-services ended by uncaught RuntimeError: the informer broke"
    for line in (main, thread):
        assert line["level"] == "critical" and "Traceback (most recent call last)" in line["exception"]
