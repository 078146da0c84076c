"""`python -m ansible_collections.baremetal.lb.daemons controller|speaker ARGS…`: the image's entry point."""

from __future__ import annotations

import runpy
import sys

_DAEMONS = ("controller", "speaker")


def main() -> None:
    """Run the daemon named by the first argument with the rest of the arguments."""
    usage = f"usage: python -m {__package__} {{{','.join(_DAEMONS)}}} [ARGS…]  (DAEMON --help: its flags)"
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(usage)
        raise SystemExit(0)
    if len(sys.argv) < 2 or sys.argv[1] not in _DAEMONS:
        print(usage, file=sys.stderr)
        raise SystemExit(2)
    daemon = sys.argv.pop(1)
    runpy.run_module(f"{__package__}.{daemon}", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
