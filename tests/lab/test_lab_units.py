"""lab/units.py reads a unit's command line as systemd would split it."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.units import service_command

UNIT = """\
# managed
[Unit]
Description=x
ExecStart=/not/this

[Service]
Environment=PYTHONPATH=/opt/b/collections
Environment="A=b c" D=e
ExecStart=/opt/b/venv/bin/python -m pkg speaker --node-name=node1 "--lb-class=a b"
Restart=always

[Install]
WantedBy=multi-user.target
"""


def test_service_section_command_and_environment(tmp_path: Path) -> None:
    unit = tmp_path / "x.service"
    unit.write_text(UNIT)
    command = service_command(unit)
    assert command.argv == [
        "/opt/b/venv/bin/python",
        "-m",
        "pkg",
        "speaker",
        "--node-name=node1",
        "--lb-class=a b",
    ]
    assert command.env == {"PYTHONPATH": "/opt/b/collections", "A": "b c", "D": "e"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("[Service]\nRestart=always\n", "no ExecStart"),
        ("[Service]\nExecStart=/a\nExecStart=/b\n", "more than one ExecStart"),
    ],
)
def test_a_unit_without_exactly_one_command_is_refused(tmp_path: Path, text: str, error: str) -> None:
    unit = tmp_path / "x.service"
    unit.write_text(text)
    with pytest.raises(ValueError, match=error):
        service_command(unit)
