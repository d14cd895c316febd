"""The API's plain parts: document keys and watermark texts."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def api_app(load_module):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "document_watermark")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        return load_module("functions/document_watermark/api/app.py",
                           "document_watermark_api_app")


def test_keys(api_app) -> None:
    assert api_app.valid_key("reports/q3 plan.md") == "reports/q3 plan.md"
    for bad in ("", "/etc/passwd", "a/../b", "a//b", "./a", "a\x00b", "x" * 1025):
        with pytest.raises(ValueError, match="not a document key"):
            api_app.valid_key(bad)


def test_watermark_modes(api_app) -> None:
    from dw_auth import Principal

    alice = Principal("user-alice", "alice@example.com", frozenset())
    assert api_app.watermark_text(alice, "name") == "alice@example.com"
    tokens = {api_app.watermark_text(alice, "token") for _ in range(50)}
    assert len(tokens) == 50 and all(t.startswith("WM-") and len(t) == 15 for t in tokens)
    assert not any("alice" in t for t in tokens)
