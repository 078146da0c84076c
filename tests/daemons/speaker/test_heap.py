"""After its first plan the speaker takes what it holds out of the garbage collector's walks."""

from __future__ import annotations

import gc

from ansible_collections.baremetal.lb.daemons.speaker.heap import freeze_long_lived


def test_objects_alive_at_the_freeze_are_left_out_of_later_collections() -> None:
    kept = [{"metadata": {"name": f"svc-{i}"}} for i in range(1000)]  # like an informer's cache
    try:
        freeze_long_lived()
        assert gc.get_freeze_count() >= len(kept)
        walked = {id(obj) for generation in range(3) for obj in gc.get_objects(generation=generation)}
        assert not walked & {id(obj) for obj in kept}
    finally:
        gc.unfreeze()
