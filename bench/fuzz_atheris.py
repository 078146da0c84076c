"""Coverage-guided fuzzing of one decoder with atheris (libFuzzer), from the bench's valid seeds.

    .venv/bin/python -m bench.fuzz_atheris --target bgp [--runs 1000000] [--seconds 300] [--hang-s 1]

:mod:`bench.fuzz` mutates blindly but fast; this one is slower per input but keeps inputs that
reach new lines of our code (only ``ansible_collections.baremetal.lb`` is instrumented) and
mutates those further. The target's valid seeds start the corpus (a temporary directory, or
``--corpus DIR`` to keep it). Each input is turned into the target's input shape:

* ``arp``, ``bfd``: the bytes as they are; ``ndp`` with its length and checksum fixed;
* ``heartbeat``: the bytes signed with the bench's key (the HMAC would stop everything else);
* ``bgp``: the first byte's low bit says 4-octet AS paths, the rest is the stream;
* ``bgp_body``: the first byte picks the message type, the rest is the body;
* ``config``: a byte picking the reader, then YAML text of a list of objects;
* ``legacy``: the ConfigMap's YAML text.

The contract is :mod:`bench.fuzz`'s: the target returns or raises its ``expected`` error.
libFuzzer stops at the first crash or hang (``--hang-s`` per input), prints the traceback and
writes the input to ``crash-*``/``timeout-*`` in ``--artifacts`` (default: here); the exit status is
then non-zero. Without one, it prints its own statistics (``stat::number_of_executed_units``,
``exec/s``) and exits 0.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import atheris
import yaml

with atheris.instrument_imports(include=["ansible_collections.baremetal.lb"]):
    from . import fuzz_targets as targets

_TARGETS = targets.build_targets(random.Random(0))


def _config(data: bytes) -> Any:
    """The first byte picks the reader (:data:`~.fuzz_targets.CONFIG_READERS`), the rest is YAML."""
    if not data:
        return None
    try:
        objects = yaml.safe_load(data[1:].decode("utf-8", "replace"))
    except yaml.YAMLError:
        return None
    ok = isinstance(objects, list) and all(
        isinstance(o, dict) and isinstance(o.get("metadata"), dict) for o in objects
    )
    return (data[0] % len(targets.CONFIG_READERS), objects) if ok else None  # objects always have metadata


# How each target reads libFuzzer's bytes (None: not an input of this shape, skip it), and its seeds.
SHAPES: dict[str, tuple[Callable[[bytes], Any], Callable[[], list[bytes]]]] = {
    "arp": (lambda data: data, targets.arp_seeds),
    "ndp": (targets.fix_ndp, targets.ndp_seeds),
    "heartbeat": (targets.sign_heartbeat, lambda: [seed[:-32] for seed in targets.heartbeat_seeds()]),
    "bgp": (
        lambda data: (data[1:], bool(data[:1]) and data[0] & 1 == 1),
        lambda: [b"\x01" + s for s in targets.bgp_seeds()],
    ),
    "bgp_body": (
        lambda data: (data[0] % 5 + 1, data[1:], True) if data else None,
        lambda: [bytes([s[18] - 1]) + s[19:] for s in targets.bgp_seeds()],
    ),
    "bfd": (lambda data: data, targets.bfd_seeds),
    "config": (
        _config,
        lambda: [bytes([i]) + yaml.safe_dump(targets.config_seed()).encode() for i in range(3)],
    ),
    "legacy": (lambda data: data.decode("utf-8", "replace"), lambda: [targets.LEGACY_SEED.encode()]),
}


def one_input(name: str) -> Callable[[bytes], None]:
    """libFuzzer's callback for target ``name``: shape the bytes, feed them, allow the expected error."""
    target = _TARGETS[name]
    shape = SHAPES[name][0]

    def test(data: bytes) -> None:
        item = shape(data)
        if item is None:
            return
        try:
            target.feed(item)
        except target.expected:
            return

    return test


def main(argv: list[str] | None = None) -> int:
    """Run libFuzzer on one target; its exit status is ours."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", required=True, choices=sorted(SHAPES))
    parser.add_argument("--runs", type=int, default=1_000_000, help="inputs to run (default 1,000,000)")
    parser.add_argument("--seconds", type=int, default=300, help="time bound (default 300)")
    parser.add_argument("--hang-s", type=int, default=1, help="an input slower than this is a hang")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    parser.add_argument("--corpus", type=Path, help="keep the corpus here (default: a temporary directory)")
    parser.add_argument("--artifacts", type=Path, default=Path(), help="where crash and hang inputs go")
    args = parser.parse_args(argv)
    if args.corpus is not None:
        _fuzz(args, args.corpus)
    # libFuzzer ends the process it runs in, cleanup included: it runs in a child, and this
    # process removes the temporary corpus once the child has gone.
    with tempfile.TemporaryDirectory(prefix="fuzz-corpus-") as scratch:
        child = os.fork()
        if child == 0:
            try:
                _fuzz(args, Path(scratch))
            finally:
                os._exit(1)  # only if libFuzzer could not start: never run the parent's code
        _unused, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status)


def _fuzz(args: argparse.Namespace, corpus: Path) -> NoReturn:
    """Seed ``corpus`` with the target's valid inputs and hand the process to libFuzzer."""
    corpus.mkdir(parents=True, exist_ok=True)
    for index, seed in enumerate(SHAPES[args.target][1]()):
        (corpus / f"seed-{index}").write_bytes(seed)
    libfuzzer = [
        sys.argv[0],
        f"-runs={args.runs}",
        f"-max_total_time={args.seconds}",
        f"-timeout={args.hang_s}",
        f"-seed={args.seed}",
        "-max_len=4200",
        "-print_final_stats=1",
        f"-artifact_prefix={args.artifacts}/",
        str(corpus),
    ]
    atheris.Setup(libfuzzer, one_input(args.target))
    atheris.Fuzz()
    raise AssertionError("atheris.Fuzz() returned")  # it exits the process when done


if __name__ == "__main__":
    sys.exit(main())
