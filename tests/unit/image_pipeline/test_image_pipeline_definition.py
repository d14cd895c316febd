"""The image_pipeline definition: valid ASL, substitutions the stack provides, every failure
path through Reject, and Parallel branches that report instead of raising."""

from __future__ import annotations

import json
import re
from pathlib import Path

from localcloud import cfn_yaml
from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "statemachines" / "image_pipeline.asl.json"
STACK = ROOT / "stacks" / "image_pipeline.yaml"


def test_definition_is_valid_and_matches_the_stack() -> None:
    assert asl_check.check_file(DEFINITION) == []
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", DEFINITION.read_text()))
    machine = cfn_yaml.load(STACK)["Resources"]["ImageStateMachine"]["Properties"]
    assert used == set(machine["DefinitionSubstitutions"])


def test_every_step_fails_into_reject_and_branches_report() -> None:
    states = json.loads(DEFINITION.read_text())["States"]
    for name in ("Validate", "Renditions", "ContentCheck", "Record"):
        assert states[name]["Catch"][0]["Next"] == "Reject", name
    assert states["Reject"]["Next"] == "Rejected"
    assert states["Rejected"] == {**states["Rejected"], "Type": "Fail",
                                  "ErrorPath": "$.rejection.error",
                                  "CausePath": "$.rejection.reason"}
    names = []
    for branch in states["Renditions"]["Branches"]:
        task = branch["States"][branch["StartAt"]]
        failed = branch["States"][task["Catch"][0]["Next"]]
        assert failed["Type"] == "Pass" and failed["Parameters"]["failed"] is True
        names.append(task["Parameters"]["Payload"]["rendition"]["name"])
    assert names == ["thumb", "small", "medium", "large"]
