"""url_shortener unit tests: the function folder importable (app.py imports us_links)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CODE = ROOT / "functions" / "url_shortener" / "shortener"
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))


@pytest.fixture(scope="module")
def us_app(load_module):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "url_shortener")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/url_shortener/shortener/app.py", "url_shortener_app")
