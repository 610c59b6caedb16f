"""Fixtures shared by the training tests: the loopback fake of the Kubernetes API (``kube``)."""

from test_trainjob_lifecycle import kube  # noqa: F401
