"""Kubernetes API plumbing shared by the controller and the speaker."""
