"""data_quality unit tests: the function folder importable (app.py imports its sibling modules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "data_quality" / "gate"
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))


@pytest.fixture(scope="session")
def dq_app(load_module):
    # What the stack's Globals give the functions; Metrics reads them at import.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "data_quality")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/data_quality/gate/app.py", "data_quality_app")


@pytest.fixture(scope="session")
def dq_demo(load_module):
    return load_module("functions/data_quality/demo.py", "data_quality_demo")
