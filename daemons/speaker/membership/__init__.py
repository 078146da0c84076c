"""Fast failure detection among the speakers of one layer-2 domain, at a fixed cost per node.

Each speaker heart-beats its ring neighbours (by node name) with HMAC-authenticated UDP every
100 ms; a neighbour silent for 300 ms is suspected to the whole domain at once and is dead when
its other watcher agrees, unless it refutes. A speaker that stops on purpose says so (LEAVE) and
is dropped at once. Holds (non-revertive failback) go to every member; version 1 peers are
heart-beaten the old way during a rolling upgrade. Plain standard-library Python; see DESIGN.md.
"""
