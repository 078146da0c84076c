"""The layer-2 soak's verdict on hand-made observations.

The soak is only as good as its rule: these pin that every silence above the bound counts (the
start and the end of the watch included; of the prober's own lateness, only the time it could
not ask is taken out), that a foreign answer, a live-member dip or a logged announce/withdraw
counts, and that only short silences are excused.
"""

from __future__ import annotations

import math

import pytest

from bench.l2_soak_judge import Observed, Run, StormWork, judge, silences, storm_problems

BOUND, SPLIT = 0.1, 0.04
VIP, OTHER_VIP = "192.0.2.70", "192.0.2.71"


def observed(*runs, late=(), members=None, logged=None, dead=None, owners=None, start=0.0, end=10.0):
    return Observed(
        start=start,
        end=end,
        owners=owners or {VIP: "node1"},
        speakers=3,
        runs=list(runs),
        late_sends=list(late),
        live_members=members if members is not None else {"node1": [3, 3], "node2": [3], "node3": [3]},
        ownership_logged=logged or {},
        declared_dead=dead or {},
    )


def answered(first, last, who="node1", vip=VIP):
    return Run(vip, who, first, last, count=max(1, round((last - first) / 0.02)))


WHOLE = answered(0.0, 10.0)


@pytest.mark.parametrize(
    ("case", "counts"),
    [
        pytest.param(observed(WHOLE), {}, id="owner-answers-throughout"),
        pytest.param(
            observed(answered(0, 5), answered(5.15, 10)),
            {"outages": 1, "outage_ms_max": 150.0},
            id="silence-above-the-bound",
        ),
        pytest.param(
            # the prober could not ask from 5.05 (a split after its send at 5.01) until 5.14:
            # 60 of the 150 ms were observed, within the bound
            observed(answered(0, 5), answered(5.15, 10), late=[(5.01, 5.14)]),
            {"unobserved": 1},
            id="silence-over-the-bound-only-while-the-prober-could-not-ask-is-unobserved",
        ),
        pytest.param(
            # the same stall of the prober, but the VIP stays silent 160 ms after it asks again
            observed(answered(0, 5), answered(5.30, 10), late=[(5.01, 5.14)]),
            {"outages": 1, "outages_prober_late": 1, "outage_ms_max": 300.0},
            id="the-probers-lateness-takes-out-only-the-time-it-could-not-ask",
        ),
        pytest.param(
            # a late send elsewhere in the watch takes nothing out of this silence
            observed(answered(0, 5), answered(5.15, 10), late=[(7.01, 7.14)]),
            {"outages": 1, "outage_ms_max": 150.0},
            id="lateness-outside-the-silence-takes-nothing-out",
        ),
        pytest.param(
            observed(answered(0, 5), answered(5.08, 10)),
            {"late_answers": 1, "late_ms_max": 80.0},
            id="silence-within-the-bound-is-a-late-answer",
        ),
        pytest.param(
            observed(answered(0, 5), answered(5.08, 10), late=[(5.01, 5.07)]),
            {"silences_prober_late": 1},
            id="short-silence-while-the-prober-was-late-is-the-probers",
        ),
        pytest.param(
            observed(answered(0.2, 10)),
            {"outages": 1, "outage_ms_max": 200.0},
            id="silence-from-the-start-counts",
        ),
        pytest.param(
            observed(answered(0, 9.5)),
            {"outages": 1, "outage_ms_max": 500.0},
            id="silence-until-the-end-counts",
        ),
        pytest.param(observed(), {"outages": 1, "outage_ms_max": 10000.0}, id="never-answered"),
        pytest.param(
            observed(answered(0, 5), answered(5.0, 5.2, "node2"), answered(5.2, 10)),
            {"foreign_runs": 1, "foreign_answers": 10},
            id="another-node-answered-without-a-silence",
        ),
        pytest.param(
            observed(WHOLE, answered(3, 3, "02:00:00:00:00:99")),
            {"foreign_runs": 1, "foreign_answers": 1},
            id="unknown-mac-answered-beside-the-owner",
        ),
        pytest.param(
            observed(WHOLE, members={"node1": [3, 2, 3], "node2": [3], "node3": [3]}),
            {"member_dips": 1},
            id="live-members-dip",
        ),
        pytest.param(
            observed(WHOLE, members={"node1": [3, math.nan], "node2": [3], "node3": [3]}),
            {"member_samples_missing": 1},
            id="unread-sample-is-no-dip-but-shown",
        ),
        pytest.param(
            observed(WHOLE, dead={"node2": 1, "node3": 0}),
            {"declared_dead": 1},
            id="peer-declared-dead-between-samples",
        ),
        pytest.param(
            observed(WHOLE, logged={"node1": 2}),
            {"ownership_logged": 2},
            id="withdraw-and-reannounce-logged",
        ),
        pytest.param(
            observed(WHOLE, answered(0, 4.0, vip=OTHER_VIP), owners={VIP: "node1", OTHER_VIP: "node1"}),
            {"outages": 1, "outage_ms_max": 6000.0},
            id="each-vip-judged-on-its-own",
        ),
    ],
)
def test_what_counts_and_what_is_excused(case, counts):
    verdict = judge(case, bound=BOUND, split=SPLIT)
    quiet = {
        "outages": 0,
        "outage_ms_max": 0.0,
        "outages_prober_late": 0,
        "unobserved": 0,
        "foreign_runs": 0,
        "foreign_answers": 0,
        "member_dips": 0,
        "member_samples_missing": 0,
        "declared_dead": 0,
        "ownership_logged": 0,
        "late_answers": 0,
        "late_ms_max": 0.0,
        "silences_prober_late": 0,
    }
    expected = {**quiet, **counts}
    assert {key: getattr(verdict, key) for key in expected} == expected
    counted = ("outages", "foreign_runs", "member_dips", "declared_dead", "ownership_logged")
    assert verdict.false_failovers == sum(expected[key] for key in counted)


THIRD_VIP = "192.0.2.72"
THREE_OWNERS = {VIP: "node1", OTHER_VIP: "node1", THIRD_VIP: "node2"}


@pytest.mark.parametrize(
    ("runs", "alongside"),
    [
        pytest.param(
            [answered(5.15, 10), answered(0, 10, vip=OTHER_VIP), answered(0, 10, vip=THIRD_VIP)],
            (0, 1, 0, 1),
            id="one-vip-alone",
        ),
        pytest.param(
            [
                answered(5.15, 10),
                answered(0, 5.0, vip=OTHER_VIP),
                answered(5.08, 10, vip=OTHER_VIP),
                answered(0, 10, vip=THIRD_VIP),
            ],
            (1, 1, 0, 1),
            id="the-owners-other-vip-too",
        ),
        pytest.param(
            [
                answered(5.15, 10),
                answered(0, 10, vip=OTHER_VIP),
                answered(0, 5.0, vip=THIRD_VIP, who="node2"),
                answered(5.08, 10, vip=THIRD_VIP, who="node2"),
            ],
            (0, 1, 1, 1),
            id="another-nodes-vip-too",
        ),
    ],
)
def test_each_outage_says_which_vip_when_and_what_else_was_silent(runs, alongside):
    case = observed(answered(0, 5.0), *runs, owners=THREE_OWNERS)

    (outage,) = judge(case, bound=BOUND, split=SPLIT).outage_list

    assert (outage.vip, outage.owner, outage.at, outage.ms) == (VIP, "node1", 5.0, 150.0)
    assert (outage.owner_vips_silent, outage.owner_vips, outage.others_silent, outage.others) == alongside
    assert outage.describe().startswith(f"{VIP} (owner node1) silent 150 ms from 5.000 s;")


def test_an_unobserved_silence_says_how_long_the_prober_could_not_ask():
    case = observed(answered(0, 5), answered(5.15, 10), late=[(5.01, 5.14)])

    (silence,) = judge(case, bound=BOUND, split=SPLIT).unobserved_list

    assert silence.describe().startswith(
        f"{VIP} (owner node1) silent 150 ms from 5.000 s while the prober sent late "
        "(it could not ask for 90 ms of it);"
    )


def test_runs_split_wider_than_the_bound_are_refused():
    with pytest.raises(ValueError, match="could hide"):
        judge(observed(WHOLE), bound=BOUND, split=BOUND * 2)


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        pytest.param([], [(0.0, 10.0)], id="nothing"),
        pytest.param([answered(1, 4), answered(2, 3, "node2")], [(0.0, 1.0), (4.0, 10.0)], id="nested"),
        pytest.param([answered(5, 10), answered(0, 4)], [(4.0, 5.0)], id="unsorted"),
    ],
)
def test_silences_lie_between_runs_of_any_node(runs, expected):
    assert silences(runs, 0.0, 10.0) == expected


@pytest.mark.parametrize(
    ("work", "problems"),
    [
        pytest.param(
            StormWork({"service": 5, "watch-cut": 2}, {"node1": 4.0}, {"node1": 3}), [], id="did-work"
        ),
        pytest.param(
            StormWork({"service": 5}, {"node1": 4.0}, {"node1": 3}),
            ["no watch-cut action was done"],
            id="kind-missing",
        ),
        pytest.param(
            StormWork({"service": 5, "watch-cut": 2}, {"node1": 0.0}, {"node1": 0}),
            ["node1 never re-planned on a change", "node1 never resumed a cut watch"],
            id="speaker-untouched",
        ),
    ],
)
def test_a_storm_that_did_no_work_is_named(work, problems):
    assert storm_problems(work, ("service", "watch-cut")) == problems
