"""Keep Python's cyclic garbage collector off what the speaker holds for its whole life.

After the first list of every Node, Service and EndpointSlice and the first plan, the
speaker's Kubernetes half holds a few hundred thousand objects (at 1,000 Nodes and 10,000
Services) that live as long as it does or are replaced whole, freed by reference counting.
Every collection of the oldest generation walks all of them: 100-200 ms stalls in the middle
of a re-plan, about one re-plan in ten after a Node's death. :func:`freeze_long_lived` moves
them out of the collector's sight (``gc.freeze``); objects made later are collected as before.
The layer-2 engine does the same after its first plan (its claims, one per Service), so that no
collection holds the GIL its ARP/NDP responder and heartbeats need for as long.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> None:
    """Collect the garbage there is now, then exempt every object still alive from later collections."""
    gc.collect()
    gc.freeze()
