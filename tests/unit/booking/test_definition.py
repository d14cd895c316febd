"""ProcessBooking's definition and the stack: shapes the workflow's guarantees rely on."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from localcloud import cfn_yaml
from tools.asl_check import check_definition

ROOT = Path(__file__).resolve().parents[3]
ASL = json.loads((ROOT / "statemachines" / "booking.asl.json").read_text())
STATES = ASL["States"]
STACK = cfn_yaml.load(ROOT / "stacks" / "booking.yaml")
RESOURCES = STACK["Resources"]
HAPPY_PATH = ["InitOutcome", "ReserveFlightSeat", "ReserveBooking", "CollectPayment",
              "ConfirmBooking", "NotifyBookingConfirmed", "BookingConfirmed"]
COMPENSATION = ["RefundPayment", "CancelBooking", "ReleaseFlightSeat", "NotifyBookingFailed",
                "SendToDeadLetterQueue", "BookingFailed"]


def _catch_target(state: str) -> str:
    (catcher,) = [c for c in STATES[state]["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
    return catcher["Next"]


def test_definition_is_structurally_sound() -> None:
    assert check_definition(ASL) == []


def test_happy_path_order() -> None:
    state, path = ASL["StartAt"], []
    while True:
        path.append(state)
        if STATES[state]["Type"] == "Succeed":
            break
        state = STATES[state]["Next"]
    assert path == HAPPY_PATH


def test_compensation_runs_in_reverse_and_always_reaches_the_dead_letter_queue() -> None:
    # Wherever it fails, the workflow enters compensation at the step that undoes the
    # furthest thing done so far.
    assert _catch_target("ReserveFlightSeat") == "CancelBooking"  # no seat, no payment
    assert _catch_target("ReserveBooking") == "CancelBooking"
    assert _catch_target("CollectPayment") == "RefundPayment"  # it may have charged
    assert _catch_target("ConfirmBooking") == "RefundPayment"
    # From there, each step (failing or not) goes on to the next one.
    for step, following in zip(COMPENSATION, COMPENSATION[1:], strict=False):
        state = STATES[step]
        if state["Type"] == "Fail":
            continue
        assert state["Next"] == following, step
        for catcher in state.get("Catch", []):
            assert catcher["Next"] in (following, "NoSeatHeld"), (step, catcher)
    assert STATES["NoSeatHeld"]["Next"] == "NotifyBookingFailed"
    assert STATES["BookingFailed"]["Type"] == "Fail"


def test_every_task_retries_transient_errors() -> None:
    tasks = {name: s for name, s in STATES.items() if s["Type"] == "Task"}
    branch = STATES["ReserveFlightSeat"]["Branches"][0]["States"]
    tasks.update({name: s for name, s in branch.items() if s["Type"] == "Task"})
    for name, state in tasks.items():
        assert state.get("Retry"), f"{name} has no Retry"
        for retrier in state["Retry"]:
            assert retrier["BackoffRate"] >= 1 and retrier["MaxAttempts"] >= 2, name
            assert "States.ALL" not in retrier["ErrorEquals"], name


def test_seat_is_taken_conditionally_and_sold_out_is_caught() -> None:
    branch = STATES["ReserveFlightSeat"]["Branches"][0]["States"]
    take = branch["TakeSeat"]
    assert take["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    assert "seatCapacity > :zero" in take["Parameters"]["ConditionExpression"]
    assert take["Catch"][0]["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    # Waiting for held seats is bounded: at least a few minutes, never forever.
    (wait,) = STATES["ReserveFlightSeat"]["Retry"]
    assert wait["ErrorEquals"] == ["Booking.SeatsHeld"]
    assert 100 <= wait["MaxAttempts"] * wait["MaxDelaySeconds"] <= 600
    release = STATES["ReleaseFlightSeat"]
    assert release["Parameters"]["ConditionExpression"] == "contains(heldBy, :bookingId)"


def test_dead_letters_never_carry_the_payment_token() -> None:
    for name in ("SendToDeadLetterQueue", "DeadLetterUnsentConfirmation",
                 "NotifyBookingFailed", "NotifyBookingConfirmed"):
        assert "paymentToken" not in json.dumps(STATES[name]["Parameters"]), name


def test_substitutions_match_the_stack() -> None:
    text = (ROOT / "statemachines" / "booking.asl.json").read_text()
    used = set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))
    given = set(RESOURCES["ProcessBookingStateMachine"]["Properties"]
                ["DefinitionSubstitutions"])
    assert used == given


# --- the stack ------------------------------------------------------------------------------

FUNCTIONS = [name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"]


def _statements(policies: list[Any]) -> list[dict[str, Any]]:
    return [s for p in policies if isinstance(p, dict) and "Statement" in p
            for s in p["Statement"]]


def test_no_wildcard_actions_and_wildcard_resources_only_for_log_delivery() -> None:
    holders = [r for r in RESOURCES.values() if "Policies" in r.get("Properties", {})]
    assert len(holders) == len(FUNCTIONS) + 1
    for resource in holders:
        for statement in _statements(resource["Properties"]["Policies"]):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [
                statement["Action"]]
            assert all("*" not in action for action in actions), actions
            if statement["Resource"] == "*":
                assert all(action.startswith("logs:") for action in actions), actions


def test_every_function_has_a_log_group_with_the_retention_parameter() -> None:
    assert len(FUNCTIONS) == 5
    for name in FUNCTIONS:
        group = RESOURCES[f"{name}LogGroup"]["Properties"]
        assert group["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/${{{name}}}"}
        assert group["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
        props = RESOURCES[name]["Properties"]
        code = ROOT / "stacks" / props["CodeUri"]
        module, _, handler = props["Handler"].rpartition(".")
        source = (code / f"{module}.py").read_text()
        assert f"def {handler}(" in source
        assert (code / "requirements.txt").exists()


def test_common_layer_and_powertools_settings_come_from_globals() -> None:
    assert STACK["Parameters"]["CommonLayerArn"]["Type"] == "AWS::SSM::Parameter::Value<String>"
    function = STACK["Globals"]["Function"]
    assert function["Layers"] == [{"Ref": "CommonLayerArn"}]
    env = function["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "booking"
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ServerlessAirline"
    assert env["LOG_LEVEL"] == env["POWERTOOLS_LOG_LEVEL"] == {"Ref": "PowertoolsLogLevel"}
    assert function["Tracing"] == "Active"


def test_root_stack_passes_the_layer_through_ssm() -> None:
    root = cfn_yaml.load(ROOT / "template.yaml")["Resources"]
    assert root["CommonLayerArnParameter"]["Properties"]["Value"] == {"Ref": "CommonLayer"}
    booking = root["Booking"]["Properties"]
    assert booking["Location"] == "stacks/booking.yaml"
    assert booking["Parameters"]["CommonLayerArn"] == {"Ref": "CommonLayerArnParameter"}


# --- seed data ---------------------------------------------------------------------------


def test_seed_flights_start_with_every_seat_for_sale(load_module: Any) -> None:
    seed = load_module("functions/booking/seed.py", "booking_seed_for_tests")
    now = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    items = [seed.flight_item(f, now) for f in seed.SEED_FLIGHTS]
    assert len({i["id"]["S"] for i in items}) == len(items)
    for item in items:
        assert item["seatCapacity"] == item["maximumSeating"]
        assert item["seatsHeld"] == item["seatsSold"] == {"N": "0"}
        assert item["route"]["S"] == f"{item['departureCode']['S']}-{item['arrivalCode']['S']}"
        assert item["arrivalDateTime"]["S"] > item["departureDateTime"]["S"]
    departed = [i for i in items if i["departureDateTime"]["S"] < "2030-05-01T12:00"]
    assert [i["id"]["S"] for i in departed] == ["flight-ba175-departed"]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "events" / "booking").glob(
    "*.json")))
def test_sample_events_are_json(name: str) -> None:
    assert isinstance(json.loads((ROOT / "events" / "booking" / name).read_text()), dict)
