"""The job definition: sound, and wired as the workflow expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = json.loads((ROOT / "statemachines" / "batch_inference.asl.json").read_text())


def test_asl_check_finds_no_problem() -> None:
    assert asl_check.check_definition(DEFINITION) == []


def test_steps_are_the_workflow_functions(workflow_app: Any) -> None:
    states = DEFINITION["States"]
    steps = {name: states[name]["Parameters"]["Payload"]["step"]
             for name in ("Plan", "Finalize", "RecordFailure")}
    assert set(steps.values()) == set(workflow_app.STEPS)


def test_a_failing_shard_is_resubmitted_then_reported_not_fatal() -> None:
    inner = DEFINITION["States"]["ScoreShards"]["ItemProcessor"]["States"]
    retry = inner["ScoreShard"]["Retry"]
    assert retry[0] == {"ErrorEquals": ["ModelError"], "MaxAttempts": 0}
    assert retry[-1]["ErrorEquals"] == ["States.ALL"] and retry[-1]["MaxAttempts"] == 2
    (catch,) = inner["ScoreShard"]["Catch"]
    assert catch["Next"] == "ShardFailed"
    assert inner["ShardFailed"]["Parameters"]["status"] == "FAILED"
    assert DEFINITION["States"]["ScoreShards"]["MaxConcurrencyPath"] == "$.max_concurrency"


def test_every_outcome_is_notified() -> None:
    states = DEFINITION["States"]
    assert states["Finalize"]["Next"] == states["RecordFailure"]["Next"] == "Notify"
    assert states["Notify"]["Resource"] == "arn:aws:states:::sns:publish"
    for name in ("Plan", "ScoreShards", "Finalize"):
        assert states[name]["Catch"][0]["Next"] == "RecordFailure"
