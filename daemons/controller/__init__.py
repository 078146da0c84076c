"""The controller's Kubernetes-facing side: watch the cluster, feed the allocator, write status.

The allocation decisions themselves live in the pure modules one level up; this package maps
Kubernetes objects onto them, owns the single allocator instance, and talks to the API server.
"""
