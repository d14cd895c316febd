"""The load machine: valid ASL, substitutions the stack provides, loads polled by the machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

from localcloud import cfn_yaml
from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "statemachines" / "data_quality.asl.json"
STACK = ROOT / "stacks" / "data_quality.yaml"


def test_definition_passes_the_asl_check_and_matches_the_stack() -> None:
    assert asl_check.check_file(DEFINITION) == []
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", DEFINITION.read_text()))
    machine = cfn_yaml.load(STACK)["Resources"]["LoadStateMachine"]["Properties"]
    assert used == set(machine["DefinitionSubstitutions"])


def test_load_is_polled_with_wait_and_choice() -> None:
    states = json.loads(DEFINITION.read_text())["States"]
    assert states["LoadAccepted"]["Next"] == "LoadDone"
    choices = states["LoadDone"]["Choices"]
    assert choices[0] == {"Variable": "$.statement.Status", "StringEquals": "FINISHED",
                          "Next": "Loaded"}
    assert choices[1]["Next"] == "StatementFailed"
    assert states["LoadDone"]["Default"] == "WaitForLoad"
    assert states["WaitForLoad"] == {"Type": "Wait", "SecondsPath": "$.poll_seconds",
                                     "Next": "DescribeLoad"}
    assert states["DescribeLoad"]["Resource"] == (
        "arn:aws:states:::aws-sdk:redshiftdata:describeStatement")
    assert states["DescribeLoad"]["Next"] == "LoadDone"


def test_only_judged_files_with_accepted_rows_are_loaded() -> None:
    states = json.loads(DEFINITION.read_text())["States"]
    (rule,) = states["Route"]["Choices"]
    assert rule["Next"] == "LoadAccepted"
    assert {c["Variable"] for c in rule["And"]} == {"$.report.status",
                                                    "$.report.accepted_rows"}
    assert states["Route"]["Default"] == "PublishReport"
    assert states["Outcome"]["Choices"][0]["Next"] == "RulesInvalid"
