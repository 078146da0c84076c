"""Kill the controller with SIGKILL during Service churn; after each restart judge every Service.

Set-up: one namespace, one pool of two IPv6 ranges, ``--services`` Services (default 5,000)
allocated by the shipped controller, run as a process with ``--log-level=debug``. Then, for each
of ``--kills`` trials (default 20):

1. churn (:mod:`.churn`: creates, deletes, sharing keys, requested addresses, pool edits) with
   the controller running, for a random 0.5-3 s; in odd-numbered trials the pool's first range
   is then removed, which moves every Service in it (a burst of writes); then freeze the
   controller (SIGSTOP) at a moment its log shows an IP chosen whose status patch is not yet
   sent (frozen, the log is final; if it shows none, thaw and watch again; bounded: after 5 s
   it freezes wherever it is);
2. ``kill -9`` the controller; stop the churn; list the Services (the state the crash left) and
   read the dead controller's log: choices with no "wrote" line, which the API server does not
   show either, are kills that landed between choosing an IP and writing it (:mod:`.write_log`);
3. restart the controller and wait until it is ready and has settled (every Service shows an
   IP and nothing changed for 2 s);
4. judge (:mod:`.judge`, by the sharing and pool rules of plugins/module_utils): no address held
   by two Services the sharing rules keep apart, no Service that showed an IP before lost or
   changed it unless its pool no longer holds it, none left on an address outside the pool.

Every trial and the totals are printed; the exit status is 1 when anything was duplicated, lost,
changed, left outside the pool, or a trial failed. Time is taken on the monotonic clock and
every wait is bounded.

    sudo .venv/bin/python -m bench.chaos.controller --start-lab
    sudo .venv/bin/python -m bench.chaos.controller --state-dir /tmp/lab --services 500 --kills 5
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.baremetal.lb.daemons.kube.kubeapi import KubeApi
from tests.lab.controller_harness import (
    Controller,
    add_lab_options,
    bench_lab,
    controller_kubeconfig,
    unique,
    wait_for,
)

from . import judge
from .churn import Churn, summary
from .write_log import InFlight, WriteTracker, in_flight

CHURN_WORKERS = 8
ADMIN_CONNECTIONS = 48
QUIET_SECONDS = 2.0
POLL_SECONDS = 0.5
TRIGGER_SECONDS = 5.0


@dataclass(frozen=True)
class Settings:
    """What one run does; the defaults are the issue's figures."""

    services: int = 5000
    kills: int = 20
    seed: int = 13
    churn_seconds: tuple[float, float] = (0.5, 3.0)
    max_ops_per_trial: int = 5000
    timeout: float = 300.0


@dataclass
class Trial:
    """What one kill and restart showed."""

    number: int
    in_flight: InFlight | None = None
    duplicates_at_kill: int = 0
    ready: float = 0.0
    settled: float = 0.0
    services: int = 0
    duplicates: dict[str, str] = field(default_factory=dict)
    comparison: judge.Comparison | None = None
    outside: tuple[str, ...] = ()
    churn: str = ""
    error: str = ""

    @property
    def faults(self) -> int:
        """Duplicated, lost, changed or stranded Services; a failed trial counts as one."""
        moved = len(self.comparison.lost) + len(self.comparison.changed) if self.comparison else 0
        return len(self.duplicates) + moved + len(self.outside) + bool(self.error)


@dataclass
class Totals:
    """The run's figures over every trial."""

    trials: list[Trial] = field(default_factory=list)

    def count(self, figure: Callable[[Trial], int]) -> int:
        """Sum one figure over the trials."""
        return sum(figure(trial) for trial in self.trials)

    @property
    def in_flight_kills(self) -> int:
        """Kills that landed between choosing an IP and writing it (for at least one Service)."""
        return self.count(lambda t: bool(t.in_flight and t.in_flight.not_written))

    @property
    def duplicates(self) -> int:
        """Addresses held against the sharing rules after a restart, summed over trials."""
        return self.count(lambda t: len(t.duplicates))

    @property
    def lost(self) -> int:
        """Services that lost their IP although the pool still held it."""
        return self.count(lambda t: len(t.comparison.lost) if t.comparison else 0)

    @property
    def changed(self) -> int:
        """Services whose IP changed although the pool still held it."""
        return self.count(lambda t: len(t.comparison.changed) if t.comparison else 0)

    @property
    def outside(self) -> int:
        """Services left on an address no pool holds."""
        return self.count(lambda t: len(t.outside))

    @property
    def failed(self) -> int:
        """Trials that did not complete (timeout, error)."""
        return self.count(lambda t: bool(t.error))

    def lines(self) -> list[str]:
        """The totals as printed."""
        interrupted = self.count(lambda t: len(t.in_flight.not_written) if t.in_flight else 0)
        wire = self.count(lambda t: len(t.in_flight.on_the_wire) if t.in_flight else 0)
        return [
            f"kills: {len(self.trials)}; in-flight kills (a chosen IP not yet written): "
            f"{self.in_flight_kills} ({interrupted} writes interrupted, {wire} of them on the wire)",
            f"duplicates at a kill: {self.count(lambda t: t.duplicates_at_kill)}; after restart: "
            f"duplicates {self.duplicates}, lost {self.lost}, changed {self.changed}, "
            f"left outside the pool {self.outside}; moved (allowed) by a pool shrink "
            f"{self.count(lambda t: len(t.comparison.moved_by_shrink) if t.comparison else 0)}, "
            f"on request {self.count(lambda t: len(t.comparison.moved_on_request) if t.comparison else 0)}",
            f"failed trials: {self.failed}",
        ]


class _LogTail:
    """Feeds a growing log file to a :class:`WriteTracker`, whole lines only."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._partial = b""
        self.tracker = WriteTracker()

    def read(self) -> WriteTracker:
        try:
            with self._path.open("rb") as log:
                log.seek(self._offset)
                chunk = log.read()
        except FileNotFoundError:
            return self.tracker
        self._offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self.tracker.feed(line.decode(errors="replace"))
        return self.tracker


class ChaosRun:
    """One run: set-up, ``settings.kills`` trials, clean-up."""

    def __init__(
        self, admin: KubeApi, kubeconfig: Path, workdir: Path, settings: Settings, say: Callable[[str], None]
    ) -> None:
        self._admin = admin
        self._settings = settings
        self._say = say
        self._random = random.Random(settings.seed)
        self._namespace = unique("chaos")
        self._churn = Churn(admin, self._namespace, unique("chaos"), settings.seed, settings.services)
        self._controller = Controller(kubeconfig, workdir, "--log-level=debug")

    def run(self) -> Totals:
        """Set up, run every trial, clean up; return the figures."""
        totals = Totals()
        started = time.monotonic()
        self._admin.request("POST", "/api/v1/namespaces", body={"metadata": {"name": self._namespace}})
        try:
            self._churn.create_pool()
            self._controller.start()
            self._churn.populate(self._settings.services)
            count, took = self._settle(started)
            self._say(f"set-up: {count} Services allocated in {took:.1f}s")
            for number in range(1, self._settings.kills + 1):
                trial = self._trial(number)
                totals.trials.append(trial)
                self._say(_describe(trial, self._settings.kills, time.monotonic() - started))
        finally:
            self._controller.stop()
            self._clean_up()
        for line in totals.lines():
            self._say(line)
        return totals

    def _trial(self, number: int) -> Trial:
        trial = Trial(number)
        self._churn.done.clear()
        stop = threading.Event()
        churning = threading.Thread(
            target=self._churn.run, args=(stop, CHURN_WORKERS, self._settings.max_ops_per_trial), daemon=True
        )
        try:
            tail = _LogTail(self._controller.log_dir / f"controller-{self._controller.starts}.log")
            shrink_first = number % 2 == 1
            if shrink_first:  # new Services fill the first range, and its removal moves them
                self._churn.set_first_range(True)
            churning.start()
            time.sleep(self._random.uniform(*self._settings.churn_seconds))  # churn before the kill
            if shrink_first:  # a burst of moves: many writes chosen and not yet made
                self._churn.set_first_range(False)
            self._freeze_before_a_write(tail)
            self._controller.kill()
            stop.set()
            churning.join(60)
            before = self._services()
            trial.duplicates_at_kill = len(judge.duplicates(before))
            trial.in_flight = in_flight(tail.read(), judge.shown(before))
            trial.churn = summary(self._churn.done)
            restarted = time.monotonic()
            self._controller.start(wait_ready=False)
            wait_for("the restarted controller to be ready", self._controller.ready, self._settings.timeout)
            trial.ready = time.monotonic() - restarted
            trial.services, trial.settled = self._settle(restarted)
            after = self._services()
            pools = self._churn.pools()
            trial.duplicates = judge.duplicates(after)
            trial.comparison = judge.compare(before, judge.shown(after), pools)
            trial.outside = judge.outside_pools(judge.shown(after), pools)
        except Exception as error:  # a failed trial is printed and counted, never dropped
            trial.error = str(error)[:300]
            stop.set()
            if churning.is_alive():
                churning.join(60)
            if self._controller.process is None or self._controller.process.poll() is not None:
                self._controller.start(wait_ready=False)
        return trial

    def _freeze_before_a_write(self, tail: _LogTail) -> None:
        """Stop the controller (SIGSTOP) where its log shows an IP chosen and its write not yet sent.

        Polling the log alone lands the kill too late on a fast machine: by the time the kill
        arrives the write is done. Frozen, the log is final, so a choice with no "writing" line is
        certainly not on the wire; if none is left, thaw and watch again. Bounded: after
        ``TRIGGER_SECONDS`` the controller is frozen wherever it is.
        """
        deadline = time.monotonic() + TRIGGER_SECONDS
        while time.monotonic() < deadline:
            if _unsent(tail.read()):
                self._controller.freeze()
                if _unsent(tail.read()):
                    return
                self._controller.thaw()
            time.sleep(0.002)
        self._controller.freeze()

    def _services(self) -> list[dict[str, Any]]:
        path = f"/api/v1/namespaces/{self._namespace}/services"
        items: list[dict[str, Any]] = self._admin.request("GET", path, {"limit": 0}, timeout=120)["items"]
        return items

    def _settle(self, since: float) -> tuple[int, float]:
        """Wait until every Service shows an IP and nothing changed for a while; return the count
        and the seconds from ``since`` to the last change."""
        last: dict[str, str] = {}
        changed_at = time.monotonic()

        def quiet() -> bool:
            nonlocal last, changed_at
            items = self._services()
            versions = {item["metadata"]["name"]: item["metadata"]["resourceVersion"] for item in items}
            if versions != last:
                last, changed_at = versions, time.monotonic()
            everyone = all(judge.shown(items).values())
            return everyone and time.monotonic() - changed_at >= QUIET_SECONDS

        wait_for(
            "every Service to show an IP and stay unchanged", quiet, self._settings.timeout, POLL_SECONDS
        )
        return len(last), changed_at - since

    def _clean_up(self) -> None:
        path = f"/api/v1/namespaces/{self._namespace}"
        self._admin.request("DELETE", path)

        def gone() -> bool:
            try:
                self._admin.request("GET", path)
            except Exception:  # 404: the namespace and its Services are gone
                return True
            return False

        wait_for(f"namespace {self._namespace} to be deleted", gone, self._settings.timeout, 1.0)
        self._churn.delete_pool()


def _unsent(tracker: WriteTracker) -> bool:
    """True when some chosen IP's status patch has not been sent yet."""
    return any(not choice.sending for choice in tracker.unwritten.values())


def _describe(trial: Trial, kills: int, elapsed: float) -> str:
    head = f"kill {trial.number:>2}/{kills} at +{elapsed:6.1f}s:"
    flight = trial.in_flight
    shot = (
        f"in flight {len(flight.not_written)} chosen-not-written ({len(flight.on_the_wire)} on the wire, "
        f"{len(flight.landed)} written but not logged)"
        if flight
        else "in flight ?"
    )
    if trial.error:
        return f"{head} {shot}; FAILED: {trial.error}; churn: {trial.churn}"
    comparison = trial.comparison or judge.Comparison()
    return (
        f"{head} {shot}, duplicates at kill {trial.duplicates_at_kill}; "
        f"ready {trial.ready:.1f}s, settled {trial.settled:.1f}s, {trial.services} Services: "
        f"duplicates {len(trial.duplicates)}, lost {len(comparison.lost)}, "
        f"changed {len(comparison.changed)}, "
        f"outside pool {len(trial.outside)}, moved by shrink {len(comparison.moved_by_shrink)}, "
        f"on request {len(comparison.moved_on_request)}; "
        f"churn: {trial.churn}"
        + "".join(f"\n    duplicate {ip}: {why}" for ip, why in list(trial.duplicates.items())[:5])
        + "".join(f"\n    lost {key}" for key in comparison.lost[:5])
        + "".join(f"\n    changed {key}" for key in comparison.changed[:5])
    )


def run(
    admin: KubeApi, kubeconfig: Path, workdir: Path, settings: Settings, say: Callable[[str], None]
) -> Totals:
    """Run the chaos bench against a lab whose CRDs and controller RBAC are installed."""
    return ChaosRun(admin, kubeconfig, workdir, settings, say).run()


def main() -> None:
    """Parse the options, find or start the lab, run, exit 1 when a promise broke."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_lab_options(parser)
    parser.add_argument("--services", type=int, default=Settings.services, help="Services kept alive (5,000)")
    parser.add_argument("--kills", type=int, default=Settings.kills, help="kill -9 and restarts (20)")
    parser.add_argument("--seed", type=int, default=Settings.seed, help="seed of the churn and kill times")
    parser.add_argument("--timeout", type=float, default=Settings.timeout, help="seconds allowed per wait")
    args = parser.parse_args()
    if not 1 <= args.services <= 20000 or not 1 <= args.kills <= 100:
        parser.error("--services from 1 to 20,000 and --kills from 1 to 100: the bench stays bounded")
    settings = Settings(services=args.services, kills=args.kills, seed=args.seed, timeout=args.timeout)
    with tempfile.TemporaryDirectory(prefix="chaos-controller-") as scratch:
        workdir = Path(scratch)
        with bench_lab(args, workdir) as lab:
            admin = KubeApi.connect(str(lab.kubeconfig), pool_size=ADMIN_CONNECTIONS)
            kubeconfig = controller_kubeconfig(lab, workdir / "kubeconfig")
            totals = run(admin, kubeconfig, workdir, settings, lambda line: print(line, flush=True))
    faults = totals.duplicates + totals.lost + totals.changed + totals.outside + totals.failed
    raise SystemExit(1 if faults else 0)


if __name__ == "__main__":
    main()
