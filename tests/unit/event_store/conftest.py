"""event_store fixtures; they and the helpers live in event_store_testlib.py."""

from event_store_testlib import clock, store, tables  # noqa: F401 - fixtures for pytest
