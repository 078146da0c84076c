"""The install role's layer-2 variables, from the inventory to the speaker's options.

``install_speaker_drain_aware``, ``install_speaker_handover_overlap``,
``install_speaker_membership_profile`` and ``install_speaker_realtime_priority`` become the speaker's
``--drain-aware``/``--no-drain-aware``, ``--handover-overlap``, ``--ml-profile`` and
``--ml-realtime-priority`` in both deployment modes, the
DaemonSet's args and the host unit's ExecStart, and only when set: unset, the speaker's own
defaults apply. Each case of the tables goes through what the role does with its variables: the
role's argument spec (``validate_argument_spec``, the check Ansible puts in front of a role), the
role's own check (tasks/speaker_settings.yml, run with the role's defaults and vars by
``include_role``), then both templates. The rendered command lines are parsed by the speaker's
own argument parser, so a flag it would refuse or read differently fails here. A bad value must
be refused with a message that names the variable, and the role itself, at both entry points,
must refuse it before its first task that reaches a cluster. The speaker's parser refuses the
same overlaps, for command lines written without the role.

One ansible-playbook run on localhost covers every case (a play each); no lab, no cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ansible_collections.baremetal.lb.daemons.speaker.__main__ import _parse
from ansible_collections.baremetal.lb.daemons.speaker.options import Options
from lab.units import service_command
from tests.lab.ansible_harness import run_local_playbook
from tests.lab.controller_harness import REPO

ROLE = REPO / "roles" / "install"
SPECS = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]
SPEAKER = Options(node_name="node1")  # the speaker's defaults
DRAIN_AWARE = "install_speaker_drain_aware"
OVERLAP = "install_speaker_handover_overlap"
PROFILE = "install_speaker_membership_profile"
PRIORITY = "install_speaker_realtime_priority"
LAYER2_FLAGS = (
    "--drain-aware",
    "--no-drain-aware",
    "--handover-overlap",
    "--ml-profile",
    "--ml-realtime-priority",
)
# Host mode's entry point needs these to get past its own first check.
HOST_MODE = {"install_mode": "host", "install_host_api_server": "https://192.0.2.10:6443"}


@dataclass(frozen=True)
class Accepted:
    """Role variables and what both modes must render and the speaker then read."""

    name: str
    variables: dict[str, Any]
    flags: tuple[str, ...]
    drain_aware: bool = SPEAKER.drain_aware
    overlap: float = SPEAKER.handover_overlap
    profile: tuple[str, float, float] = (SPEAKER.ml_profile, SPEAKER.ml_interval, SPEAKER.ml_dead_after)
    realtime_priority: int = SPEAKER.ml_realtime_priority


@dataclass(frozen=True)
class Refused:
    """Role variables the role must refuse, and words its error must contain."""

    name: str
    variables: dict[str, Any]
    error: tuple[str, ...]


NOT_A_FLOAT = (f"argument '{OVERLAP}'", "unable to convert to float")
OUT_OF_RANGE = (f"{OVERLAP} must be a finite number of seconds, 0 or more",)
NOT_A_PRIORITY = (f"{PRIORITY} must be a SCHED_FIFO priority from 1 to 99, 0 for normal priority",)
ACCEPTED = [
    Accepted("unset: the speaker's defaults", {}, ()),
    Accepted("drain-aware off", {DRAIN_AWARE: False}, ("--no-drain-aware",), drain_aware=False),
    Accepted("drain-aware pinned on", {DRAIN_AWARE: True}, ("--drain-aware",), drain_aware=True),
    Accepted("drain-aware 'no' (a string)", {DRAIN_AWARE: "no"}, ("--no-drain-aware",), drain_aware=False),
    Accepted("overlap 0: break before make", {OVERLAP: 0}, ("--handover-overlap=0.0",), overlap=0.0),
    Accepted("overlap 0.25", {OVERLAP: 0.25}, ("--handover-overlap=0.25",), overlap=0.25),
    Accepted("overlap '0.25' (a string)", {OVERLAP: "0.25"}, ("--handover-overlap=0.25",), overlap=0.25),
    Accepted("overlap 2 (an int)", {OVERLAP: 2}, ("--handover-overlap=2.0",), overlap=2.0),
    Accepted("profile fast", {PROFILE: "fast"}, ("--ml-profile=fast",), profile=("fast", 0.025, 0.075)),
    Accepted(
        "profile default, pinned",
        {PROFILE: "default"},
        ("--ml-profile=default",),
        profile=("default", 0.1, 0.3),
    ),
    Accepted(
        "real-time priority 0: normal", {PRIORITY: 0}, ("--ml-realtime-priority=0",), realtime_priority=0
    ),
    Accepted("real-time priority 50", {PRIORITY: 50}, ("--ml-realtime-priority=50",), realtime_priority=50),
    Accepted(
        "real-time priority '0' (a string)",
        {PRIORITY: "0"},
        ("--ml-realtime-priority=0",),
        realtime_priority=0,
    ),
    Accepted(
        "both set",
        {DRAIN_AWARE: False, OVERLAP: 0.5},
        ("--no-drain-aware", "--handover-overlap=0.5"),
        drain_aware=False,
        overlap=0.5,
    ),
]
REFUSED = [
    Refused("overlap negative", {OVERLAP: -1}, OUT_OF_RANGE),
    Refused("overlap '-0.5' (a string)", {OVERLAP: "-0.5"}, OUT_OF_RANGE),
    Refused("overlap infinite", {OVERLAP: "inf"}, OUT_OF_RANGE),
    Refused("overlap NaN", {OVERLAP: "nan"}, OUT_OF_RANGE),
    Refused("overlap not a number", {OVERLAP: "soon"}, NOT_A_FLOAT),
    Refused("overlap empty", {OVERLAP: ""}, NOT_A_FLOAT),
    Refused("overlap a list", {OVERLAP: [1]}, NOT_A_FLOAT),
    Refused("drain-aware not a boolean", {DRAIN_AWARE: "maybe"}, (f"argument '{DRAIN_AWARE}'", "bool")),
    Refused("real-time priority 100", {PRIORITY: 100}, NOT_A_PRIORITY),
    Refused("real-time priority negative", {PRIORITY: -1}, NOT_A_PRIORITY),
    Refused("real-time priority not a number", {PRIORITY: "high"}, (f"argument '{PRIORITY}'", "int")),
    Refused("an unknown profile", {PROFILE: "faster"}, (f"{PROFILE} must be default", "got faster")),
]
# The role itself, at each entry point: a value of each kind of refusal, and the start of the
# name of the task that must refuse it (the argument spec Ansible checks first, or the role's own
# check).
ENTRY_POINTS = ["main", "host"]
ROLE_REFUSALS = [
    (REFUSED[0], "Check the speaker's hand-over overlap"),
    (REFUSED[-1], "Check the speaker's failure-detection profile"),
    (REFUSED[-4], "Check the speaker's real-time priority"),
    (REFUSED[4], "Validating arguments against arg spec '{entry}'"),
]


@dataclass(frozen=True)
class Outcome:
    """What a play left: the error it stopped with ("" if none) and the rendered files."""

    error: str
    failed_task: str
    daemonset: Path
    unit: Path


def _render_play(name: str, variables: dict[str, Any], out: Path) -> dict[str, Any]:
    """A play checking ``variables`` as the role does, then rendering both modes into ``out``."""
    specs = str(ROLE / "meta" / "argument_specs.yml")
    templates = ROLE / "templates"
    render = [
        (templates / "speaker.yaml.j2", out / "daemonset.yaml"),
        (templates / "host" / "baremetal-lb-speaker.service.j2", out / "speaker.service"),
    ]
    return {
        "name": name,
        "hosts": "localhost",
        "gather_facts": False,
        "vars": variables,
        "tasks": [
            {
                "block": [
                    *(
                        {
                            "name": f"The role's argument spec at its {entry} entry point",
                            "ansible.builtin.validate_argument_spec": {
                                "argument_spec": (
                                    f"{{{{ (lookup('ansible.builtin.file', '{specs}') | from_yaml)"
                                    f".argument_specs.{entry}.options }}}}"
                                )
                            },
                        }
                        for entry in ENTRY_POINTS
                    ),
                    {
                        "name": "The role's own check, with its defaults and vars",
                        "ansible.builtin.include_role": {
                            "name": "baremetal.lb.install",
                            "tasks_from": "speaker_settings",
                            "public": True,
                        },
                    },
                    *(
                        {
                            "name": f"Render {source.name}",
                            "ansible.builtin.copy": {
                                "content": f"{{{{ lookup('ansible.builtin.template', '{source}') }}}}",
                                "dest": str(dest),
                                "mode": "0600",
                            },
                        }
                        for source, dest in render
                    ),
                ],
                "rescue": [_record_failure(out)],
            }
        ],
    }


def _role_play(name: str, entry: str, variables: dict[str, Any], out: Path) -> dict[str, Any]:
    """A play running the role itself at ``entry``, recording the task that stopped it."""
    return {
        "name": name,
        "hosts": "localhost",
        "gather_facts": False,
        "vars": {**HOST_MODE, **variables} if entry == "host" else variables,
        "tasks": [
            {
                "block": [
                    {
                        "name": "The role",
                        "ansible.builtin.include_role": {"name": "baremetal.lb.install", "tasks_from": entry},
                    }
                ],
                "rescue": [_record_failure(out)],
            }
        ],
    }


def _record_failure(out: Path) -> dict[str, Any]:
    return {
        "name": "Record the failure",
        "ansible.builtin.copy": {
            "content": "{{ {'task': ansible_failed_task.name, 'msg': ansible_failed_result.msg} | to_json }}",
            "dest": str(out / "error.json"),
            "mode": "0600",
        },
    }


def _outcome(out: Path) -> Outcome:
    error = json.loads((out / "error.json").read_text()) if (out / "error.json").exists() else {}
    return Outcome(
        error.get("msg", ""), error.get("task", ""), out / "daemonset.yaml", out / "speaker.service"
    )


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case's outcome, by name, from one ansible-playbook run."""
    root = tmp_path_factory.mktemp("install-speaker-flags")
    plays: list[dict[str, Any]] = []
    outs: dict[str, Path] = {}
    for number, case in enumerate([*ACCEPTED, *REFUSED]):
        outs[case.name] = root / f"case{number}"
        plays.append(_render_play(case.name, case.variables, outs[case.name]))
    for refused, _task in ROLE_REFUSALS:
        for entry in ENTRY_POINTS:
            name = f"role {entry}: {refused.name}"
            outs[name] = root / f"role-{entry}-{len(outs)}"
            plays.append(_role_play(name, entry, refused.variables, outs[name]))
    for out in outs.values():
        out.mkdir()
    playbook = root / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, sort_keys=False))
    # Should the role get past its checks, its first cluster task fails on this, not on a cluster.
    done = run_local_playbook(playbook, env={"K8S_AUTH_KUBECONFIG": str(root / "no-such-kubeconfig")})
    assert done.returncode == 0, f"ansible-playbook failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    return {name: _outcome(out) for name, out in outs.items()}


def _daemonset_args(path: Path) -> list[str]:
    """The speaker's command line in the DaemonSet, after its ``speaker`` subcommand."""
    args: list[str] = yaml.safe_load(path.read_text())["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "speaker", args
    return args[1:]


def _unit_args(path: Path) -> list[str]:
    """The speaker's command line in the host unit's ExecStart, after its ``speaker`` subcommand."""
    argv = service_command(path).argv
    return argv[argv.index("speaker") + 1 :]


def _layer2_flags(args: list[str]) -> list[str]:
    return [arg for arg in args if arg.startswith(LAYER2_FLAGS)]


def test_the_role_leaves_the_defaults_to_the_speaker_and_its_docs_state_them() -> None:
    """The role's defaults are null (no flag); where its docs state the default, it is the speaker's.

    The argument spec gives no ``default``: with one, Ansible would refuse the role's own null.
    """
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    stated = {
        DRAIN_AWARE: str(SPEAKER.drain_aware).lower(),
        OVERLAP: str(SPEAKER.handover_overlap),
        PROFILE: SPEAKER.ml_profile,
        PRIORITY: str(SPEAKER.ml_realtime_priority),
    }
    readme = (ROLE / "README.md").read_text()
    for variable, value in stated.items():
        assert defaults[variable] is None, variable
        for entry in ENTRY_POINTS:
            option = SPECS[entry]["options"][variable]
            assert "default" not in option, (entry, variable)
            assert f"the speaker's own default applies, C({value})" in " ".join(option["description"])
        assert f"| `{variable}` | unset: the speaker's, `{value}` |" in readme, variable


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
def test_both_modes_render_what_the_speaker_reads(outcomes: dict[str, Outcome], case: Accepted) -> None:
    outcome = outcomes[case.name]
    assert outcome.error == "", f"refused: {outcome.failed_task}: {outcome.error}"
    unset = outcomes[ACCEPTED[0].name]
    modes = {
        "DaemonSet": (_daemonset_args(outcome.daemonset), _daemonset_args(unset.daemonset)),
        "host unit": (_unit_args(outcome.unit), _unit_args(unset.unit)),
    }
    for mode, (args, args_when_unset) in modes.items():
        assert _layer2_flags(args) == list(case.flags), mode
        # Nothing but the layer-2 flags differs from the unset case.
        assert [arg for arg in args if arg not in case.flags] == args_when_unset, mode
        options = _parse([*args, "--node-name=node1"])
        assert (options.drain_aware, options.handover_overlap) == (case.drain_aware, case.overlap), mode
        assert (options.ml_profile, options.ml_interval, options.ml_dead_after) == case.profile, mode
        assert options.ml_realtime_priority == case.realtime_priority, mode


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.name)
def test_a_bad_value_is_refused_naming_the_variable(outcomes: dict[str, Outcome], case: Refused) -> None:
    outcome = outcomes[case.name]
    for words in case.error:
        assert words in outcome.error, f"{words!r} not in the error: {outcome.error!r}"
    assert not outcome.daemonset.exists()
    assert not outcome.unit.exists()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize(("case", "task"), ROLE_REFUSALS, ids=lambda value: getattr(value, "name", ""))
def test_the_role_refuses_a_bad_value_before_reaching_the_cluster(
    outcomes: dict[str, Outcome], entry: str, case: Refused, task: str
) -> None:
    outcome = outcomes[f"role {entry}: {case.name}"]
    assert outcome.failed_task.startswith(task.format(entry=entry)), outcome
    for words in case.error:
        assert words in outcome.error, f"{words!r} not in the error: {outcome.error!r}"


@pytest.mark.parametrize(
    "case", [case for case in REFUSED if OVERLAP in case.variables], ids=lambda case: case.name
)
def test_the_speaker_refuses_the_overlaps_the_role_refuses(
    case: Refused, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run without the role (a hand-written unit, the bench), the speaker stops at its parser."""
    with pytest.raises(SystemExit):
        _parse(["--node-name=node1", f"--handover-overlap={case.variables[OVERLAP]}"])
    assert "argument --handover-overlap" in capsys.readouterr().err


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.name)
def test_sys_nice_is_added_exactly_when_the_engine_runs_at_real_time_priority(
    outcomes: dict[str, Outcome], case: Accepted
) -> None:
    expected = ["NET_RAW", "SYS_NICE"] if case.realtime_priority > 0 else ["NET_RAW"]
    outcome = outcomes[case.name]
    container = yaml.safe_load(outcome.daemonset.read_text())["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": expected}
    unit = outcome.unit.read_text()
    for setting in ("CapabilityBoundingSet", "AmbientCapabilities"):
        assert f"{setting}={' '.join(f'CAP_{name}' for name in expected)}\n" in unit, setting
