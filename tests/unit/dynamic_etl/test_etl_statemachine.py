"""The ETL definition: valid ASL, substitutions that the stack provides, and the shape the
issue asks for (Map with a MaxConcurrency parameter, warehouse statements polled by the state
machine with Wait + Choice, never by a sleeping function)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from localcloud import cfn_yaml
from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "statemachines" / "dynamic_etl.asl.json"
STACK = ROOT / "stacks" / "dynamic_etl.yaml"
DESCRIBE = "arn:aws:states:::aws-sdk:redshiftdata:describeStatement"


def _definition() -> dict:
    return json.loads(DEFINITION.read_text())


def test_definition_passes_the_asl_check() -> None:
    assert asl_check.check_file(DEFINITION) == []


def test_every_substitution_comes_from_the_stack() -> None:
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", DEFINITION.read_text()))
    machine = cfn_yaml.load(STACK)["Resources"]["EtlStateMachine"]["Properties"]
    assert used == set(machine["DefinitionSubstitutions"])
    assert machine["DefinitionUri"] == "../statemachines/dynamic_etl.asl.json"
    schedule = machine["Events"]["TwiceDaily"]
    assert schedule == {"Type": "Schedule", "Properties": {
        "Schedule": "cron(0 3,14 * * ? *)", "Description": "dynamic_etl run at 03:00 and "
                                                          "14:00 UTC."}}


def _poll_loop(states: dict, choice: str, status_path: str, wait: str, describe: str,
               ok: str) -> None:
    rules = states[choice]["Choices"]
    assert rules[0] == {"Variable": status_path, "StringEquals": "FINISHED", "Next": ok}
    assert {r["StringEquals"] for r in rules[1]["Or"]} == {"FAILED", "ABORTED"}
    assert states[choice]["Default"] == wait
    assert states[wait] == {"Type": "Wait", "SecondsPath": "$.poll_seconds", "Next": describe}
    assert states[describe]["Resource"] == DESCRIBE
    assert states[describe]["Next"] == choice


def test_statements_are_polled_by_the_state_machine() -> None:
    states = _definition()["States"]
    _poll_loop(states, "TablesReady", "$.prepare.Status", "WaitForTables", "DescribeTables",
               "LoadKeys")
    inner = states["LoadKeys"]["ItemProcessor"]["States"]
    _poll_loop(inner, "LoadDone", "$.result.load.Status", "WaitForLoad", "DescribeLoad",
               "KeyLoaded")


def test_map_over_keys_with_a_concurrency_parameter_and_contained_failures() -> None:
    states = _definition()["States"]
    load = states["LoadKeys"]
    assert load["Type"] == "Map" and load["ItemsPath"] == "$.keys"
    assert load["MaxConcurrencyPath"] == "$.max_concurrency"
    inner = load["ItemProcessor"]["States"]
    # Every failure of a key's own steps ends that branch in KeyFailed, not the Map.
    for name in ("ExecuteKey", "DescribeLoad"):
        assert inner[name]["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                                         "Next": "KeyFailed"}]
    assert inner["KeyFailed"]["Type"] == "Pass" and inner["KeyFailed"]["End"] is True
    # MaxConcurrency comes from the stack parameter through the Start function's environment.
    start = cfn_yaml.load(STACK)["Resources"]["StartFunction"]["Properties"]
    assert start["Environment"]["Variables"]["MAX_CONCURRENCY"] == {"Ref": "MaxConcurrency"}


def test_no_keys_goes_straight_to_the_summary() -> None:
    states = _definition()["States"]
    assert states["AnyKeys"]["Choices"] == [{"Variable": "$.key_count", "NumericEquals": 0,
                                             "Next": "Summarize"}]
    assert states["Summarize"]["Next"] == "PublishSummary"
    assert states["RunOutcome"]["Choices"][0]["Next"] == "KeysFailed"
