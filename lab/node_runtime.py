"""Run one real Kubernetes node inside a lab node namespace: containerd, CNI and kubelet.

A node is three processes in the node's network namespace, all in one private mount namespace:

1. a holder (`sleep`) that owns the mount namespace, where the node's own directories are
   bind-mounted over the fixed paths kubelet, CNI and containerd write (node_config.FIXED_PATHS);
2. containerd v2 with its own root, state, socket and CNI configuration;
3. kubelet with its own client certificate, cgroup root and serving certificate.

Entering is done with `nsenter --net` (`ip netns exec` remounts /sys, which hides the cgroup
hierarchies from kubelet and runc). Pods run in cgroups under the node's cgroup root, which the
lab creates in every v1 hierarchy and removes again, after killing what is left in it, on stop.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from . import images, netns, node_config, pki, process, topology
from .controlplane import write_kubeconfig
from .node_config import NodeLayout

CGROUP_FS = Path("/sys/fs/cgroup")
# The hierarchies kubelet's cgroupfs driver needs its cgroup root in (cgroup v1). It also makes
# directories in "unified" (the hybrid layout's v2 mount) by itself, so teardown looks there too.
_V1_HIERARCHIES = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd")
_ALL_HIERARCHIES = (*_V1_HIERARCHIES, "unified")


def cgroup_root(plan: topology.Plan, node: str) -> str:
    """The node's kubelet cgroupRoot: one per lab and node, so nodes never share pods' cgroups."""
    return f"/{plan.prefix}{node}"


def layout(state_dir: Path, node: str) -> NodeLayout:
    """Where a node of the lab in `state_dir` keeps its files."""
    return NodeLayout(state_dir / "nodes" / node)


def mount_points() -> list[Path]:
    """The fixed paths a node covers with its own directories (they must exist on the machine)."""
    return [Path(p) for p in node_config.FIXED_PATHS]


def create_mount_points() -> list[str]:
    """Create the fixed paths that do not exist yet; return those created (to remove on teardown)."""
    created = []
    for path in mount_points():
        missing = [p for p in [path, *path.parents] if not p.exists()]
        path.mkdir(parents=True, exist_ok=True)
        created += [str(p) for p in missing]
    return created


def remove_mount_points(created: Sequence[str]) -> None:
    """Remove the directories create_mount_points made, deepest first, if they are still empty."""
    for path in sorted(created, key=lambda p: p.count("/"), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(path)


class NodeRuntime:
    """Prepares, starts and stops the runtime of one lab node."""

    def __init__(
        self, plan: topology.Plan, host: topology.LanHost, state_dir: Path, bins: Mapping[str, Path]
    ) -> None:
        self.plan = plan
        self.host = host
        self.bins = bins
        self.layout = layout(state_dir, host.name)
        self.pki_dir = state_dir / "pki"
        self.log_dir = state_dir / "logs"
        self.cgroup_root = cgroup_root(plan, host.name)

    def prepare(self, api_server: str, sandbox_image: str) -> None:
        """Write the node's certificates, configuration files and cgroups."""
        lay = self.layout
        for directory in [
            lay.containerd_root,
            lay.containerd_state,
            lay.cni_conf_dir,
            lay.ipam_dir,
            lay.run_dir,
        ]:
            directory.mkdir(parents=True, exist_ok=True)
        for path in node_config.FIXED_PATHS:
            lay.fixed(path).mkdir(parents=True, exist_ok=True)
        pki.create_node(self.pki_dir, self.host.name, [self.host.ipv4, self.host.ipv6])
        write_kubeconfig(lay.kubeconfig, api_server, self.pki_dir, f"{self.host.name}-kubelet-client")
        lay.containerd_config.write_text(node_config.containerd_config(lay, sandbox_image))
        lay.crictl_config.write_text(node_config.crictl_config(lay))
        (lay.cni_conf_dir / "10-bmlb.conflist").write_text(
            node_config.cni_config(lay, self.plan.pod_cidrs(self.host.name))
        )
        lay.kubelet_config.write_text(
            node_config.kubelet_config(
                lay,
                address=self.host.ipv4,
                cgroup_root=self.cgroup_root,
                pki_dir=self.pki_dir,
                node=self.host.name,
            )
        )
        create_cgroups(self.cgroup_root)

    def start_holder(self) -> process.Started:
        """Start the mount-namespace holder with the node's directories over the fixed paths."""
        binds = " && ".join(
            f"mount --bind {self.layout.fixed(path)} {path}" for path in node_config.FIXED_PATHS
        )
        argv = [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            f"{binds} && exec sleep infinity",
        ]
        started = self._start(f"{self.host.name}-mounts", argv, mount_of=None)
        process.wait_until(
            f"{self.host.name}'s mount namespace", lambda: _comm(started.pid) == "sleep", 10, started
        )
        return started

    def start_containerd(self, holder: int) -> process.Started:
        """Start containerd in the holder's mount namespace; return once its socket answers."""
        containerd = self.bins["containerd"]
        started = self._start(
            f"{self.host.name}-containerd",
            [str(containerd), "--config", str(self.layout.containerd_config)],
            mount_of=holder,
            env={"PATH": f"{containerd.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"},
        )
        process.wait_until(
            f"containerd's socket on {self.host.name}",
            lambda: self._ctr("version", check=False) == 0,
            30,
            started,
        )
        return started

    def import_images(self, names: Sequence[str]) -> None:
        """Load the lab's built images into the node's containerd, where kubelet's CRI looks."""
        images.load_into_containerd(self.bins["ctr"], self.layout.socket, names)

    def start_kubelet(self, holder: int) -> process.Started:
        """Start kubelet in the holder's mount namespace."""
        h = self.host
        argv = [
            str(self.bins["kubelet"]),
            f"--config={self.layout.kubelet_config}",
            f"--kubeconfig={self.layout.kubeconfig}",
            f"--hostname-override={h.name}",
            f"--node-ip={h.ipv4},{h.ipv6}",
            f"--node-labels=baremetal.lb/lab-netns={h.netns}",
            "--v=1",
        ]
        return self._start(f"{h.name}-kubelet", argv, mount_of=holder)

    def _start(
        self, name: str, argv: list[str], mount_of: int | None, env: Mapping[str, str] | None = None
    ) -> process.Started:
        enter = ["nsenter", f"--net={netns.NETNS_DIR}/{self.host.netns}"]
        if mount_of is not None:
            enter.append(f"--mount=/proc/{mount_of}/ns/mnt")
        return process.start_argv(name, self.host.netns, [*enter, "--", *argv], self.log_dir, env)

    def _ctr(self, *args: str, check: bool = True) -> int:
        argv = [str(self.bins["ctr"]), "--address", str(self.layout.socket), "--namespace", "k8s.io", *args]
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=300)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed on {self.host.name}: {proc.stderr.strip()}")
        return proc.returncode


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


# -- cgroups --------------------------------------------------------------------------------------


def _hierarchies(names: Sequence[str] = _ALL_HIERARCHIES) -> Iterator[Path]:
    for name in names:
        path = CGROUP_FS / name
        if (path / "cgroup.procs").exists():
            yield path


def create_cgroups(root: str) -> None:
    """Create the node's cgroup root in every v1 hierarchy (cpuset gets its parent's CPUs and memory)."""
    for hierarchy in _hierarchies(_V1_HIERARCHIES):
        path = hierarchy / root.strip("/")
        path.mkdir(exist_ok=True)
        if hierarchy.name == "cpuset":
            for knob in ("cpuset.cpus", "cpuset.mems"):
                (path / knob).write_text((hierarchy / knob).read_text())


def remove_cgroups(root: str, timeout: float = 15) -> list[str]:
    """Kill every process left under the cgroup root, then remove its cgroups; return those still busy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _pids_under(root)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    busy = []
    for hierarchy in _hierarchies():
        top = hierarchy / root.strip("/")
        if not top.is_dir():
            continue
        for directory in sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            busy += _rmdir(directory)
        busy += _rmdir(top)
    return busy


def stray_cgroup_roots(prefix: str) -> list[str]:
    """Node cgroup roots whose name starts with `prefix`, in any hierarchy (for `lab down --everything`)."""
    return sorted({f"/{p.name}" for h in _hierarchies() for p in h.glob(f"{prefix}*") if p.is_dir()})


def _pids_under(root: str) -> list[int]:
    pids: set[int] = set()
    for hierarchy in _hierarchies():
        top = hierarchy / root.strip("/")
        if top.is_dir():
            for procs in top.rglob("cgroup.procs"):
                pids.update(int(p) for p in procs.read_text().split())
    return sorted(pids)


def _rmdir(directory: Path) -> list[str]:
    try:
        directory.rmdir()
    except FileNotFoundError:
        return []
    except OSError:
        return [str(directory)]
    return []
