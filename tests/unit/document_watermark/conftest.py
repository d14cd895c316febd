"""document_watermark unit tests: both function folders importable (dw_* module names are
unique to this app)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
for folder in ("api", "watermark"):
    code = ROOT / "functions" / "document_watermark" / folder
    if str(code) not in sys.path:
        sys.path.insert(0, str(code))


@pytest.fixture(scope="module")
def dw_demo(load_module):
    return load_module("functions/document_watermark/demo.py", "document_watermark_demo")


@pytest.fixture(scope="module")
def idp(dw_demo):
    return dw_demo.IdentityProvider()
