"""Bad input never crashes a decoder: it returns a value or raises its own documented error.

The decoders are those of :mod:`bench.fuzz_targets` (ARP, NDP, heartbeat, BGP, BFD, the
metallb.io configuration and the legacy ConfigMap). Hypothesis explores each with a modest
budget, and a short run of ``bench/fuzz`` (a couple of seconds per target) replays the
million-input bench in miniature. The bench itself must notice a crash and a hang, or its
zeros would prove nothing. Crashers it found are kept as exact regression cases next to the
decoder they broke (tests/unit/plugins/module_utils/test_validation.py for the configuration).
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import fuzz_targets as targets
from bench.fuzz import fuzz
from bench.fuzz_targets import Target, build_targets

TARGETS = build_targets(random.Random(0))
BYTE_SEEDS = {
    "arp": targets.arp_seeds(),
    "ndp": targets.ndp_seeds(),
    "heartbeat": targets.heartbeat_seeds(),
    "bfd": targets.bfd_seeds(),
}
FIXES = {
    "ndp": targets.fix_ndp,
    "heartbeat": lambda data: targets.sign_heartbeat(data[:-32]),
    "bfd": targets.fix_bfd,
}
# The short bench run: a fixed number of inputs (about a second each unloaded), within a bound
# that only a decoder gone very slow would overrun.
SHORT_RUN_INPUTS = {"config": 3000, "legacy": 3000}
SHORT_RUN_DEFAULT_INPUTS = 30000
SHORT_RUN_BOUND_SECONDS = 60.0
HANG_SECONDS = 1.0  # inputs take microseconds to milliseconds; a loaded machine must not fake a hang
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def holds_contract(target: Target, data: Any) -> bool:
    """True when ``target`` returns or raises its own error; anything else propagates and fails."""
    with contextlib.suppress(target.expected):
        target.feed(data)
    return True


@st.composite
def edited(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes overwritten, inserted or cut off: close to valid, so it reaches deep."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _unused in range(draw(st.integers(0, 4))):
        pos = draw(st.integers(0, len(data)))
        patch = draw(st.binary(min_size=1, max_size=4))
        if draw(st.booleans()):
            data[pos : pos + len(patch)] = patch
        else:
            data[pos:pos] = patch
    return bytes(data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data)


def frames(name: str) -> st.SearchStrategy[bytes]:
    """Arbitrary bytes, edited seeds, and edited seeds with the target's length/checksum fix-up."""
    near = edited(BYTE_SEEDS[name])
    fixed = near.map(FIXES[name]) if name in FIXES else near
    return st.one_of(st.binary(max_size=160), near, fixed)


@pytest.mark.parametrize("name", sorted(BYTE_SEEDS))
def test_every_seed_decodes(name):
    for seed in BYTE_SEEDS[name]:
        TARGETS[name].feed(seed)


def test_the_bgp_config_and_legacy_seeds_decode():
    for seed in targets.bgp_seeds():
        TARGETS["bgp"].feed((seed, True))
    for reader in range(len(targets.CONFIG_READERS)):
        TARGETS["config"].feed((reader, targets.config_seed()))
    assert TARGETS["legacy"].feed(targets.LEGACY_SEED) == []  # converts with no validation error


@pytest.mark.parametrize("name", sorted(BYTE_SEEDS))
@FUZZ
@given(data=st.data())
def test_frame_decoders_keep_the_contract(name, data):
    assert holds_contract(TARGETS[name], data.draw(frames(name)))


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=200), edited(targets.bgp_seeds()), edited(targets.bgp_seeds()).map(targets.fix_bgp)
    ),
    four_octet=st.booleans(),
)
def test_bgp_decoder_keeps_the_contract(data, four_octet):
    assert holds_contract(TARGETS["bgp"], (data, four_octet))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
SEED_OBJECTS = targets.config_seed()


@st.composite
def configs(draw: st.DrawFn) -> tuple[int, list[dict[str, Any]]]:
    """A reader, and the seed configuration with one object's spec fields set to arbitrary JSON."""
    objects = list(SEED_OBJECTS)
    index = draw(st.integers(0, len(objects) - 1))
    spec = dict(objects[index].get("spec") or {})
    keys = sorted(spec) or ["addresses"]
    for key in draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3)):
        spec[key] = draw(JSON)
    objects[index] = {**objects[index], "spec": spec}
    return draw(st.integers(0, len(targets.CONFIG_READERS) - 1)), objects


@FUZZ
@given(objects=configs())
def test_config_parser_keeps_the_contract(objects):
    assert holds_contract(TARGETS["config"], objects)


@FUZZ
@given(
    item=st.one_of(
        st.text(max_size=200),
        JSON,
        st.dictionaries(st.sampled_from(["peers", "address-pools", "bgp-communities", "bfd-profiles"]), JSON),
    )
)
def test_legacy_converter_keeps_the_contract(item):
    assert holds_contract(TARGETS["legacy"], item)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_bench_run_finds_no_crash_or_hang(name):
    inputs = SHORT_RUN_INPUTS.get(name, SHORT_RUN_DEFAULT_INPUTS)
    result = fuzz(build_targets(random.Random(name))[name], inputs, SHORT_RUN_BOUND_SECONDS, HANG_SECONDS)
    assert result.inputs == inputs, f"only {result.inputs} of {inputs} inputs in {SHORT_RUN_BOUND_SECONDS}s"
    assert result.accepted > 0, "no input got through the decoder: the mutations stay too shallow"
    assert not result.crashes, [f"{f.what} at {f.where}: {f.example!r}" for f in result.crashes.values()]
    assert not result.hangs, result.hangs[:3]


def _raises_index_error(_data: object) -> object:
    return b""[1]


def _loops_forever(_data: object) -> object:
    deadline = time.monotonic() + 10  # bounded, and far beyond the hang bound
    while time.monotonic() < deadline:
        pass
    return None


def _blocks_forever(_data: object) -> object:
    time.sleep(10)  # bounded, and far beyond the hang bound; burns no CPU
    return None


@pytest.mark.parametrize(
    ("feed", "crashes", "hangs"),
    [(_raises_index_error, 5, 0), (_loops_forever, 0, 2), (_blocks_forever, 0, 2)],
    ids=["crash", "spinning-hang", "blocking-hang"],
)
def test_the_bench_counts_crashes_and_hangs(feed, crashes, hangs):
    inputs = 5 if crashes else 2
    started = time.monotonic()
    result = fuzz(Target("broken", lambda: b"x", feed, ValueError), inputs, 30.0, 0.05)
    assert (result.inputs, result.crash_count, len(result.hangs)) == (inputs, crashes, hangs)
    assert time.monotonic() - started < 5, "a hang must be cut short by the alarm, not run to its end"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_coverage_guided_run_finds_no_crash_or_hang(name, tmp_path):
    runs = 300 if name in ("config", "legacy") else 3000  # YAML text makes these two slow
    command = [sys.executable, "-m", "bench.fuzz_atheris", "--target", name, "--runs", str(runs)]
    command += ["--seconds", "60", "--artifacts", str(tmp_path)]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "TMPDIR": str(scratch)}
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Done {runs} runs" in done.stderr, done.stderr[-3000:]
    assert not list(scratch.iterdir()), "the temporary corpus outlived the run"
    assert [entry.name for entry in tmp_path.iterdir()] == ["tmp"], "libFuzzer wrote a crash or hang input"
