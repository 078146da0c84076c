"""The baremetal.lb daemons: thin entry points over plugins/module_utils.

`controller` allocates LoadBalancer IPs, `speaker` announces them; `kube` is the Kubernetes API
plumbing they share (list+watch caches, work queue, Events, health, logs). Kubernetes-facing code
lives here rather than in plugins/module_utils so that the modules' bundled code stays free of
third-party imports; the allocation and announcement logic itself is in plugins/module_utils.
"""
