"""dynamic_etl unit tests: the function folder importable (app.py imports its sibling modules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "dynamic_etl" / "etl"
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))


@pytest.fixture(scope="session")
def etl_app(load_module):
    # What the stack's Globals give the functions; Metrics reads them at import.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "dynamic_etl")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/dynamic_etl/etl/app.py", "dynamic_etl_app")


@pytest.fixture(scope="session")
def etl_demo(load_module):
    return load_module("functions/dynamic_etl/demo.py", "dynamic_etl_demo")
