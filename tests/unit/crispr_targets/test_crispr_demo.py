"""The demo's plant check fails when the app misses a planted site or counts one it must not."""

from __future__ import annotations

import copy
from typing import Any

import pytest

SUMMARY = {
    "guides": [{"protospacer": "A" * 20, "position": 1_000, "strand": "+"}],
    "plants": [
        {"guide": 0, "position": 50, "strand": "-", "mismatches": 1, "pam": "AGG", "pam_ok": True},
        {"guide": 0, "position": 90, "strand": "+", "mismatches": 4, "pam": "AGG", "pam_ok": True},
        {"guide": 0, "position": 70, "strand": "+", "mismatches": 1, "pam": "TCA",
         "pam_ok": False},
    ],
}


@pytest.fixture(scope="module")
def demo(load_module: Any) -> Any:
    return load_module("functions/crispr_targets/demo.py", "crispr_targets_demo")


def _targets(hits: list[tuple[int, str, int]]) -> dict[tuple[int, str], dict[str, Any]]:
    target = {"protospacer": "A" * 20, "offtarget_hits": [
        {"position": p, "strand": s, "mismatches": m} for p, s, m in hits]}
    return {(11, "+"): target}  # query starts at 990: genome 1000 is query position 11


def test_all_plants_as_expected_passes(demo: Any) -> None:
    (guide,) = demo.check_plants(SUMMARY, _targets([(1_000, "+", 0), (50, "-", 1)]), 990)
    assert guide["protospacer"] == "A" * 20


@pytest.mark.parametrize(("hits", "message"), [
    ([(1_000, "+", 0)], "planted site (50, '-', 1) is not among its hits"),
    ([(50, "-", 1), (90, "+", 3)], "must not count"),
    ([(50, "-", 1), (70, "+", 1)], "must not count (PAM TCA"),
])
def test_a_missed_or_wrongly_counted_plant_fails(demo: Any, hits: list, message: str) -> None:
    with pytest.raises(AssertionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        demo.check_plants(SUMMARY, _targets(hits), 990)


def test_a_guide_not_found_fails(demo: Any) -> None:
    summary = copy.deepcopy(SUMMARY)
    summary["guides"][0]["strand"] = "-"
    with pytest.raises(AssertionError, match="guide 0 not found"):
        demo.check_plants(summary, _targets([]), 990)
