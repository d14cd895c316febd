"""The scoring definition: structurally sound, wired to the workflow steps and the template."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "statemachines" / "crispr_targets.asl.json"
STACK = ROOT / "stacks" / "crispr_targets.yaml"


def _states() -> dict[str, Any]:
    return json.loads(DEFINITION.read_text())["States"]


def test_asl_check_finds_no_problem() -> None:
    assert asl_check.check_definition(json.loads(DEFINITION.read_text())) == []


def test_every_task_runs_a_known_step_of_the_workflow_function(workflow_app: Any) -> None:
    states = _states()
    tasks = {**states, **states["ScoreChunks"]["ItemProcessor"]["States"]}
    steps = {}
    for name, state in tasks.items():
        if state["Type"] != "Task":
            continue
        params = state["Parameters"]
        assert params["FunctionName"] == "${WorkflowFunctionArn}"
        steps[name] = params["Payload"]["step"]
        assert state["OutputPath"] == "$.Payload"
    assert steps == {"Plan": "plan", "ScoreChunk": "score", "Aggregate": "aggregate",
                     "RecordFailure": "fail"}
    assert set(steps.values()) == set(workflow_app.STEPS)


def test_the_map_sends_what_score_needs_and_retries_a_failing_chunk() -> None:
    score = _states()["ScoreChunks"]
    assert score["ItemsPath"] == "$.work"
    assert set(score["ItemSelector"]) == {"job_id.$", "genome.$", "k.$", "b.$", "c.$"}
    assert score["MaxConcurrencyPath"] == "$.max_concurrency"
    retriers = score["ItemProcessor"]["States"]["ScoreChunk"]["Retry"]
    assert retriers[-1]["ErrorEquals"] == ["States.ALL"] and retriers[-1]["MaxAttempts"] >= 1


def test_every_failure_path_records_the_job_then_fails_the_execution() -> None:
    states = _states()
    for name in ("Plan", "ScoreChunks", "Aggregate"):
        (catch,) = states[name]["Catch"]
        assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure",
                         "Next": "RecordFailure"}
    assert states["RecordFailure"]["Next"] == "Failed"
    assert states["Failed"] == {**states["Failed"], "Type": "Fail", "ErrorPath": "$.error",
                                "CausePath": "$.cause"}


def test_substitutions_match_the_template() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", DEFINITION.read_text()))
    stack = STACK.read_text()
    block = stack[stack.index("DefinitionSubstitutions:"):stack.index("Tracing:", stack.index(
        "DefinitionSubstitutions:"))]
    assert placeholders == set(re.findall(r"^\s+(\w+):", block, re.M))
