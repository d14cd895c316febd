"""survival_api test set-up: the function's folder importable, R loaded once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_DIR = ROOT / "functions" / "survival_api" / "survival"
EVENTS = ROOT / "events" / "survival_api"

# app.py imports its sibling modules by name, as it does in the image's task root.
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))


# What stacks/survival_api.yaml gives the function (the R paths are the image's, absent here).
TEMPLATE_ENV = {
    "POWERTOOLS_SERVICE_NAME": "survival_api",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessCollection",
    "R_HOME": "/opt/R/4.2.3/lib/R",
}


@pytest.fixture(scope="session")
def app(load_module):
    """The handler module; importing it starts the embedded R (once per test session)."""
    saved = {name: os.environ.get(name) for name in TEMPLATE_ENV}
    os.environ.update(TEMPLATE_ENV)
    try:
        return load_module("functions/survival_api/survival/app.py", "survival_api_app")
    finally:
        # Logger and Metrics keep what they read at import; other tests get their own env.
        # R_HOME stays as survival_r set it: the embedded R lives on in this process.
        for name, value in saved.items():
            if name == "R_HOME":
                continue
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def r(app):
    """The embedded R session of the handler module."""
    return app.R


@pytest.fixture(scope="session")
def cohorts(load_module):
    return load_module("functions/survival_api/cohorts.py", "survival_api_cohorts")


@pytest.fixture(scope="session")
def png_check(load_module):
    return load_module("functions/survival_api/png_check.py", "survival_api_png_check")


@pytest.fixture
def lambda_context():
    """The context fields Powertools reads."""
    return SimpleNamespace(
        function_name="SurvivalFunction", memory_limit_in_mb=1769,
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:SurvivalFunction",
        aws_request_id="00000000-0000-0000-0000-000000000004",
    )
