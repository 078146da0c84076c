"""The speaker's failure-detection profiles: what each flag combination runs with."""

from __future__ import annotations

import pytest

from ansible_collections.baremetal.lb.daemons.speaker.__main__ import _parse

PROFILES = {
    "no flag: the default profile": ([], ("default", 0.1, 0.3)),
    "fast": (["--ml-profile=fast"], ("fast", 0.025, 0.075)),
    "an explicit timing wins over the profile's": (
        ["--ml-profile=fast", "--ml-dead-after=0.1"],
        ("fast", 0.025, 0.1),
    ),
    "explicit timings without a profile": (
        ["--ml-interval=0.05", "--ml-dead-after=0.2"],
        ("default", 0.05, 0.2),
    ),
}


@pytest.mark.parametrize(("flags", "expected"), PROFILES.values(), ids=PROFILES.keys())
def test_a_profile_sets_the_timing_unless_a_flag_does(flags, expected) -> None:
    options = _parse(["--node-name=node1", *flags])
    assert (options.ml_profile, options.ml_interval, options.ml_dead_after) == expected


@pytest.mark.parametrize(
    "flags",
    [
        ["--ml-profile=fast", "--ml-interval=0.1"],  # not below the profile's dead-after
        ["--ml-interval=0"],
        ["--ml-dead-after=-1"],
        ["--ml-profile=slow"],
    ],
)
def test_a_timing_that_cannot_detect_anything_is_refused(flags, capsys) -> None:
    with pytest.raises(SystemExit):
        _parse(["--node-name=node1", *flags])
    assert "--ml-" in capsys.readouterr().err
