"""ebs_snapshots fixtures; they and the helpers live in ebs_snapshots_testlib.py."""

from ebs_snapshots_testlib import regions  # noqa: F401 - fixtures for pytest
