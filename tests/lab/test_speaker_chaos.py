"""Speaker chaos, short: each fault of bench/chaos/speaker.py once, on the real lab.

One stage (bench/chaos/speaker_faults.py's ``serve``: a layer-2 VIP owned by each node, a BGP
Service announced by every node to BIRD, FRR and GoBGP), then one trial of each fault, every
trial judged by the same code as the bench with the same bounds:

* ``kill -9`` of a VIP's owner: another node answers within the failover bound, the restarted
  owner takes its VIP back with no silence or double answer above it;
* ``kill -9`` of a BGP speaker: its paths leave every router, the other nodes' never do, and
  its paths are back after the restart;
* link flap: the owner's cable pulled at the switch and put back, judged as the kill;
* node return: every VIP watched while a node leaves and returns; it takes back the VIP the
  rule gives it, nothing else moves, no VIP is answered by two nodes beyond the bound;
* the API server stopped (20 s here, 60 s in the bench): layer 2 keeps answering, killing the
  owner halfway still fails over, and after the return the speakers resync without moving IPs;
* each router restarted: sessions Established and the route back within the bound.

One test, so the stage is built once (its set-up is most of the cost); the failure message
lists every trial that broke a promise, with what broke.
"""

from __future__ import annotations

from bench.chaos import speaker_faults

API_OUTAGE = 20.0  # seconds; the bench stops the API server for 60


def test_the_speakers_keep_their_promises_under_every_fault(
    lab, cluster, l2, bgp, start_controller, speakers, namespace
):
    stage = speaker_faults.serve(
        lab,
        cluster=cluster,
        l2=l2,
        bgp=bgp,
        start_controller=start_controller,
        speakers=speakers,
        namespace=namespace,
    )
    trials = []
    for fault in speaker_faults.FAULTS:
        trials.append(speaker_faults.run_trial(stage, fault, 1, API_OUTAGE))
        print(trials[-1].line())
    broken = [trial.line() for trial in trials if not trial.ok]
    assert not broken, "\n".join(broken)
