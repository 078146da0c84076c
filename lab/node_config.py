"""The configuration files of one real lab node: containerd, kubelet and CNI (pure text, no I/O).

Several nodes share one machine, so every path a node writes is its own (NodeLayout), and what
kubelet, CNI and containerd write to fixed paths is covered by the node's private mount
namespace (FIXED_PATHS, bind-mounted from the node's directory). The settings this VM forces are
marked where they are made; design.md §4 has the error each one avoids.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

# Paths kubelet, CNI and containerd write whatever their configuration says; each node gets its own
# directory bind-mounted over them inside its private mount namespace.
FIXED_PATHS = (
    "/var/lib/kubelet",  # device-plugins/ and plugins_registry/ are not under --root-dir
    "/var/lib/cni",  # libcni's result cache
    "/run/containerd",  # the shims' sockets (/run/containerd/s/…)
    "/var/log/pods",
    "/var/log/containers",
)
CNI_BIN_DIR = "/usr/lib/cni"  # Debian's containernetworking-plugins
RUNC = "/usr/sbin/runc"
CNI_NETWORK = "bmlb-pods"
RUN_PREFIX = "bmlb-node-"  # /run/bmlb-node-*: every lab's node sockets (lab down --everything removes bmlb-*)
POD_BRIDGE = "cni0"


@dataclass(frozen=True)
class NodeLayout:
    """Where one node keeps everything: a directory of its own under the lab's state directory."""

    base: Path

    @property
    def containerd_root(self) -> Path:
        """Containerd's persistent data: content, snapshots (images stay here between pods)."""
        return self.base / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        """Containerd's runtime state, also where pod network namespaces are pinned."""
        return self.base / "containerd" / "state"

    @property
    def containerd_config(self) -> Path:
        """Containerd's config.toml."""
        return self.base / "containerd" / "config.toml"

    @property
    def run_dir(self) -> Path:
        """A short directory under /run for the node's sockets.

        A unix socket path holds 107 bytes, and the lab's state directory can be deep (pytest's
        or molecule's temporary directories).
        """
        digest = hashlib.sha256(str(self.base).encode()).hexdigest()[:12]
        return Path("/run") / f"{RUN_PREFIX}{digest}"

    @property
    def socket(self) -> Path:
        """Containerd's gRPC socket, the CRI endpoint kubelet and crictl use."""
        return self.run_dir / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        """The CNI configuration directory containerd reads."""
        return self.base / "cni" / "net.d"

    @property
    def ipam_dir(self) -> Path:
        """host-local's record of the pod addresses it handed out."""
        return self.base / "cni" / "ipam"

    @property
    def kubelet_config(self) -> Path:
        """Kubelet's KubeletConfiguration file."""
        return self.base / "kubelet-config.yaml"

    @property
    def kubeconfig(self) -> Path:
        """Kubelet's kubeconfig (its own client certificate)."""
        return self.base / "kubelet.kubeconfig"

    @property
    def crictl_config(self) -> Path:
        """Crictl's configuration for this node: `crictl --config PATH ps`."""
        return self.base / "crictl.yaml"

    def fixed(self, path: str) -> Path:
        """The node's own directory that covers one of FIXED_PATHS."""
        return self.base / "fixed" / path.strip("/").replace("/", "-")


def containerd_config(layout: NodeLayout, sandbox_image: str) -> str:
    """Containerd v2's config.toml (version 3) for one node."""
    runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return f"""\
version = 3
root = '{layout.containerd_root}'
state = '{layout.containerd_state}'

[grpc]
  address = '{layout.socket}'

[ttrpc]
  address = '{layout.socket}.ttrpc'

[plugins.'io.containerd.internal.v1.opt']
  path = '{layout.base / "containerd" / "opt"}'

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = '{sandbox_image}'

[{runtime}]
  # runc cannot lower oom_score_adj on this VM; without this every sandbox fails with
  # "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true

[{runtime}.containerd]
  default_runtime_name = 'runc'

[{runtime}.containerd.runtimes.runc]
  runtime_type = 'io.containerd.runc.v2'

[{runtime}.containerd.runtimes.runc.options]
  BinaryName = '{RUNC}'
  Root = '{layout.containerd_state / "runc"}'
  SystemdCgroup = false

[{runtime}.cni]
  bin_dirs = ['{CNI_BIN_DIR}']
  conf_dir = '{layout.cni_conf_dir}'

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = '127.0.0.1'
"""


def crictl_config(layout: NodeLayout) -> str:
    """crictl.yaml pointing at the node's runtime."""
    endpoint = f"unix://{layout.socket}"
    return yaml.safe_dump({"runtime-endpoint": endpoint, "image-endpoint": endpoint, "timeout": 10})


def cni_config(layout: NodeLayout, pod_cidrs: tuple[str, str]) -> str:
    """A conflist: the node's pod bridge, dual-stack addresses from its own ranges."""
    plugins = [
        {
            "type": "bridge",
            "bridge": POD_BRIDGE,
            "isGateway": True,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "dataDir": str(layout.ipam_dir),
                "ranges": [[{"subnet": cidr}] for cidr in pod_cidrs],
                "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}],
            },
        },
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ]
    return json.dumps({"cniVersion": "1.0.0", "name": CNI_NETWORK, "plugins": plugins}, indent=2) + "\n"


def kubelet_config(
    layout: NodeLayout,
    *,
    address: str,
    cgroup_root: str,
    pki_dir: Path,
    node: str,
) -> str:
    """The node's KubeletConfiguration."""
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This VM has cgroup v1 (hybrid) and no systemd as PID 1; kubelet >= 1.35 refuses v1 unless told.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": cgroup_root,
        # Negative OOM scores are forbidden here (CAP_SYS_RESOURCE is withheld).
        "oomScoreAdj": 0,
        "containerRuntimeEndpoint": f"unix://{layout.socket}",
        "address": address,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "tlsCertFile": str(pki_dir / f"{node}-kubelet.crt"),
        "tlsPrivateKeyFile": str(pki_dir / f"{node}-kubelet.key"),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(pki_dir / "ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "failSwapOn": False,
        "resolvConf": "/etc/resolv.conf",
        # The lab's disk is shared with the machine; evicting pods for its fill level helps nobody.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "nodeStatusReportFrequency": "10s",
        "shutdownGracePeriod": "0s",
    }
    return yaml.safe_dump(config, sort_keys=False)
