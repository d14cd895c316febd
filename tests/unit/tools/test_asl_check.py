from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tools import asl_check

ROOT = Path(__file__).resolve().parents[3]
DEFINITIONS = sorted((ROOT / "statemachines").glob("*.json"))

GOOD = {
    "StartAt": "Hello",
    "States": {
        "Hello": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Fork"},
        "Fork": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "p1", "States": {"p1": {"Type": "Pass", "End": True}}},
                {"StartAt": "p2", "States": {"p2": {"Type": "Pass", "End": True}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
            "Next": "Decide",
        },
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Each"}],
            "Default": "Failed",
        },
        "Each": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "Item", "States": {"Item": {"Type": "Succeed"}}},
            "Next": "Wait",
        },
        "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "Boom"},
    },
}


def _bad(mutate) -> list[str]:
    defn = copy.deepcopy(GOOD)
    mutate(defn)
    return asl_check.check_definition(defn)


def test_good_definition_passes():
    assert asl_check.check_definition(GOOD) == []


def test_the_seed_example_without_next_on_goodbye():
    # statelint's example in the launch post: Goodbye has neither Next nor End.
    defn = {
        "StartAt": "Hello",
        "States": {
            "Hello": {"Type": "Task", "Resource": "arn:x", "Next": "Goodbye"},
            "Goodbye": {"Type": "Task", "Resource": "arn:x"},
        },
    }
    assert asl_check.check_definition(defn) == [
        'State Machine.States.Goodbye does not have required field "Next" (or "End": true)',
        "No terminal state found in machine at State Machine.States",
    ]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.pop("StartAt"), 'State Machine does not have required field "StartAt"'),
        (
            lambda d: d.update(StartAt="Nowhere"),
            'State Machine.StartAt "Nowhere" is not a state of the machine',
        ),
        (
            lambda d: d.pop("States"),
            'State Machine does not have required field "States" (a non-empty object)',
        ),
        (
            lambda d: d["States"]["Wait"].update(Next="Gone"),
            'State Machine.States.Wait.Next points to missing state "Gone"',
        ),
        (
            lambda d: d["States"]["Decide"].update(Default="Gone"),
            'State Machine.States.Decide.Default points to missing state "Gone"',
        ),
        (
            lambda d: d["States"]["Decide"]["Choices"][0].update(Next="Gone"),
            'State Machine.States.Decide.Choices[0].Next points to missing state "Gone"',
        ),
        (
            lambda d: d["States"]["Fork"]["Catch"][0].update(Next="Gone"),
            'State Machine.States.Fork.Catch[0].Next points to missing state "Gone"',
        ),
        (
            lambda d: d["States"]["Wait"].pop("Next"),
            'State Machine.States.Wait does not have required field "Next" (or "End": true)',
        ),
        (
            lambda d: d["States"]["Wait"].update(End=True),
            'State Machine.States.Wait has both "Next" and "End"; it must have exactly one',
        ),
        (
            lambda d: d["States"]["Done"].update(Next="Wait"),
            'State Machine.States.Done is a Succeed state and must not have field "Next"',
        ),
        (
            lambda d: d["States"]["Failed"].update(End=True),
            'State Machine.States.Failed is a Fail state and must not have field "End"',
        ),
        (
            lambda d: d["States"]["Decide"].update(Next="Done"),
            'State Machine.States.Decide is a Choice state and must not have field "Next"',
        ),
        (
            lambda d: d["States"]["Decide"].update(Choices=[]),
            'State Machine.States.Decide does not have required field "Choices" (a non-empty list)',
        ),
        (
            lambda d: d["States"]["Decide"]["Choices"][0].pop("Next"),
            'State Machine.States.Decide.Choices[0] does not have required field "Next"',
        ),
        (
            lambda d: d["States"]["Hello"].pop("Resource"),
            'State Machine.States.Hello does not have required field "Resource"',
        ),
        (
            lambda d: d["States"]["Wait"].update(Type="Sleep"),
            'State Machine.States.Wait has an unknown or missing Type ("Sleep")',
        ),
        (
            lambda d: d["States"]["Wait"].pop("Type"),
            "State Machine.States.Wait has an unknown or missing Type (missing)",
        ),
        (
            lambda d: d["States"].update(Orphan={"Type": "Pass", "Next": "Done"}),
            "State Machine.States.Orphan is not reachable from StartAt",
        ),
        (
            lambda d: d["States"]["Fork"]["Branches"][1]["States"]["p2"].pop("End"),
            "No terminal state found in machine at State Machine.States.Fork.Branches[1].States",
        ),
        (
            lambda d: d["States"]["Fork"]["Branches"][0].update(StartAt="p2"),
            'State Machine.States.Fork.Branches[0].StartAt "p2" is not a state of the machine',
        ),
        (
            lambda d: d["States"]["Fork"].update(Branches=[]),
            "State Machine.States.Fork.Branches is missing",
        ),
        (
            lambda d: d["States"]["Each"]["ItemProcessor"]["States"].update(
                Stray={"Type": "Succeed"}
            ),
            "State Machine.States.Each.ItemProcessor.States.Stray is not reachable from StartAt",
        ),
        (
            lambda d: d["States"]["Each"].pop("ItemProcessor"),
            "State Machine.States.Each.ItemProcessor is missing",
        ),
    ],
)
def test_each_problem_is_reported(mutate, expected):
    assert expected in _bad(mutate)


def test_no_terminal_state_in_a_loop():
    defn = {
        "StartAt": "A",
        "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}},
    }
    assert asl_check.check_definition(defn) == [
        "No terminal state found in machine at State Machine.States"
    ]


def test_legacy_map_iterator_is_checked():
    def use_iterator(d):
        d["States"]["Each"]["Iterator"] = {"StartAt": "Item", "States": {"Item": {"Type": "Pass"}}}
        d["States"]["Each"].pop("ItemProcessor")

    assert _bad(use_iterator) == [
        'State Machine.States.Each.Iterator.States.Item does not have required field "Next" '
        '(or "End": true)',
        "No terminal state found in machine at State Machine.States.Each.Iterator.States",
    ]


def test_non_object_definition():
    assert asl_check.check_definition([]) == ["State Machine is not a JSON object"]


def test_cli_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.asl.json"
    good.write_text(json.dumps(GOOD))
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}))
    broken = tmp_path / "broken.asl.json"
    broken.write_text("{")

    assert asl_check.main([str(good)]) == 0
    assert capsys.readouterr().out == ""
    assert asl_check.main([str(good), str(bad), str(broken)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{bad}: State Machine.States.A does not have required field")
    assert lines[1].startswith(f"{bad}: No terminal state")
    assert lines[2].startswith(f"{broken}: cannot load definition")
    assert asl_check.main([]) == 2


def test_statemachines_directory_is_not_empty():
    assert DEFINITIONS, "no definitions found in statemachines/"


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda path: path.name)
def test_every_definition_in_statemachines_is_sound(path):
    assert asl_check.check_file(path) == []
