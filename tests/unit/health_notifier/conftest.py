"""health_notifier fixtures; they and the helpers live in health_notifier_testlib.py."""

from health_notifier_testlib import ec2  # noqa: F401 - fixtures for pytest
