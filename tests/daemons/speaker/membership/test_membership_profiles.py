"""The speaker's failure-detection profiles: what each flag combination runs with."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.__main__ import _parse

PROFILES = {  # flags -> (profile, interval, dead-after, real-time priority)
    "no flag: the default profile": ([], ("default", 0.1, 0.3, 10)),
    "fast: short timing and a real-time engine": (["--ml-profile=fast"], ("fast", 0.025, 0.075, 10)),
    "an explicit value wins over the profile's": (
        ["--ml-profile=fast", "--ml-dead-after=0.1", "--ml-realtime-priority=0"],
        ("fast", 0.025, 0.1, 0),
    ),
    "explicit values without a profile": (
        ["--ml-interval=0.05", "--ml-dead-after=0.2", "--ml-realtime-priority=5"],
        ("default", 0.05, 0.2, 5),
    ),
    "normal priority, as a cluster that refuses SYS_NICE needs": (
        ["--ml-realtime-priority=0"],
        ("default", 0.1, 0.3, 0),
    ),
}


@pytest.mark.parametrize(("flags", "expected"), PROFILES.values(), ids=PROFILES.keys())
def test_a_profile_sets_the_timing_unless_a_flag_does(flags, expected) -> None:
    options = _parse(["--node-name=node1", *flags])
    assert (
        options.ml_profile,
        options.ml_interval,
        options.ml_dead_after,
        options.ml_realtime_priority,
    ) == expected


@pytest.mark.parametrize(
    "flags",
    [
        ["--ml-profile=fast", "--ml-interval=0.1"],  # not below the profile's dead-after
        ["--ml-interval=0"],
        ["--ml-dead-after=-1"],
        ["--ml-profile=slow"],
        ["--ml-realtime-priority=100"],
    ],
)
def test_a_timing_that_cannot_detect_anything_is_refused(flags, capsys) -> None:
    with pytest.raises(SystemExit):
        _parse(["--node-name=node1", *flags])
    assert "--ml-" in capsys.readouterr().err
