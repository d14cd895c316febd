"""image_pipeline unit tests: the function folder importable (app.py imports ip_images)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "image_pipeline" / "pipeline"
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))


@pytest.fixture(scope="module")
def ip_app(load_module):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "image_pipeline")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/image_pipeline/pipeline/app.py", "image_pipeline_app")


@pytest.fixture(scope="module")
def ip_demo(load_module):
    return load_module("functions/image_pipeline/demo.py", "image_pipeline_demo")
