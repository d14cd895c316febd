"""The run definition: sound, and wired as the steps expect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = json.loads((ROOT / "statemachines" / "image_embeddings.asl.json").read_text())


def test_asl_check_finds_no_problem() -> None:
    assert asl_check.check_definition(DEFINITION) == []


def test_steps_and_batches(workflow_app: Any) -> None:
    states = DEFINITION["States"]
    assert {states[n]["Parameters"]["Payload"]["step"] for n in ("Plan", "Summarize")} == set(
        workflow_app.STEPS)
    inner = states["EmbedBatches"]["ItemProcessor"]["States"]
    assert inner["EmbedBatch"]["Retry"][0]["MaxAttempts"] == 2
    assert inner["EmbedBatch"]["Catch"][0]["Next"] == "BatchFailed"
    assert inner["BatchFailed"]["Parameters"]["status"] == "FAILED"
    assert states["AllBatchesDone?"]["Default"] == "BatchesFailed"
    assert states["Plan"]["Catch"][0]["Next"] == "PlanFailed"
