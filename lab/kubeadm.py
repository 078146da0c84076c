"""What a kubeadm cluster in use has and the bare control plane lacks.

kube-proxy's ConfigMap and DaemonSet in kubeadm's shape, so the collection's kube_proxy step
meets in the lab what it meets in users' clusters, and an application to expose (`demo/web`).

The DaemonSet's pods are kwok's fakes (Ready, no process): there is no kubelet or IPVS here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client

from . import images, topology

# config.conf as `kubeadm init` writes it for v1.37 (abridged to the keys that matter here).
KUBE_PROXY_CONFIG = f"""\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
bindAddressHardFail: false
clientConnection:
  acceptContentTypes: ""
  burst: 0
  contentType: ""
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
  qps: 0
clusterCIDR: {topology.POD_CIDR}
configSyncPeriod: 0s
conntrack:
  maxPerCore: null
  min: null
  tcpCloseWaitTimeout: null
  tcpEstablishedTimeout: null
detectLocalMode: ""
enableProfiling: false
healthzBindAddress: ""
hostnameOverride: ""
iptables:
  localhostNodePorts: null
  masqueradeAll: false
  masqueradeBit: null
  minSyncPeriod: 0s
  syncPeriod: 0s
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false
  syncPeriod: 0s
  tcpFinTimeout: 0s
  tcpTimeout: 0s
  udpTimeout: 0s
kind: KubeProxyConfiguration
metricsBindAddress: ""
mode: ""
nodePortAddresses: null
oomScoreAdj: null
portRange: ""
"""


def _daemonset() -> dict[str, Any]:
    labels = {"k8s-app": "kube-proxy"}
    return {
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "containers": [
                        {
                            "name": "kube-proxy",
                            "image": images.kube_proxy_ref(),
                            "command": [
                                images.KUBE_PROXY_BINARY,
                                "--config=/var/lib/kube-proxy/config.conf",
                            ],
                        }
                    ],
                },
            },
        },
    }


def install_kube_proxy(api: client.ApiClient) -> None:
    """Create kube-system/kube-proxy (ConfigMap and DaemonSet) unless they exist."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    configmap = {
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": KUBE_PROXY_CONFIG},
    }
    # The client accepts plain dicts wherever its stubs name a model class.
    _create_if_missing(lambda: core.create_namespaced_config_map("kube-system", configmap))  # type: ignore[arg-type]
    _create_if_missing(lambda: apps.create_namespaced_daemon_set("kube-system", _daemonset()))  # type: ignore[arg-type]


def _create_if_missing(create: Callable[[], object]) -> None:
    try:
        create()
    except client.ApiException as err:
        if err.status != 409:
            raise
