"""ec2_scheduler fixtures; they and the helpers live in ec2_scheduler_testlib.py."""

from ec2_scheduler_testlib import ec2  # noqa: F401 - fixtures for pytest
