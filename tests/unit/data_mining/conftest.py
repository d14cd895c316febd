"""data_mining unit tests: the function folder importable (app.py imports its sibling modules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "data_mining" / "mining"
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))


@pytest.fixture(scope="session")
def dm_app(load_module):
    # What the stack's Globals give the functions; Metrics reads them at import.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "data_mining")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/data_mining/mining/app.py", "data_mining_app")


@pytest.fixture(scope="session")
def dm_demo(load_module):
    return load_module("functions/data_mining/demo.py", "data_mining_demo")


@pytest.fixture
def served(dm_demo):
    """The demo's four sources on a loopback port (real HTTP, no mocked requests)."""
    _, identifiers = dm_demo.dataset(12)
    catalog = dm_demo.make_catalog(identifiers)
    catalog.slow_seconds = 1.0
    with dm_demo.source_servers(catalog) as base:
        yield base, catalog, identifiers
