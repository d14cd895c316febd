"""booking unit tests: moto in-process, tables made from the stack's own definitions.

The function modules are loaded once for this package under a single moto mock (their
clients are created at import, as on Lambda); each test gets empty tables. The environment
they need is set for this package only.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions" / "booking"
STACK = ROOT / "stacks" / "booking.yaml"
TABLES = {"FlightTable": "flights", "BookingTable": "bookings",
          "PaymentLedgerTable": "ledger", "IdempotencyTable": "idempotency"}
STATE_MACHINE = "ProcessBooking"
ENV = {
    "FLIGHT_TABLE_NAME": "flights", "BOOKING_TABLE_NAME": "bookings",
    "PAYMENT_LEDGER_TABLE_NAME": "ledger", "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "PROCESS_BOOKING_STATE_MACHINE_ARN":
        f"arn:aws:states:us-east-1:123456789012:stateMachine:{STATE_MACHINE}",
    "PAYMENT_FAILURE_INJECTION": "enabled",
    "POWERTOOLS_SERVICE_NAME": "booking", "POWERTOOLS_METRICS_NAMESPACE": "ServerlessAirline",
    "POWERTOOLS_TRACE_DISABLED": "true", "AWS_LAMBDA_FUNCTION_NAME": "booking-unit",
}

for folder in ("api", "payment"):  # their helper modules (booking_requests, providers)
    if str(FUNCTIONS / folder) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS / folder))


@dataclass
class LambdaContext:
    function_name: str = "booking-unit"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:booking-unit"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _table_definitions() -> dict[str, dict[str, Any]]:
    resources = cfn_yaml.load(STACK)["Resources"]
    out = {}
    for logical_id, name in TABLES.items():
        props = resources[logical_id]["Properties"]
        kwargs = {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
                  "KeySchema": props["KeySchema"],
                  "AttributeDefinitions": props["AttributeDefinitions"]}
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        out[name] = kwargs
    return out


class Cloud:
    """moto's AWS for one test session: clients, and fresh tables per test."""

    def __init__(self) -> None:
        self.ddb = boto3.client("dynamodb", region_name="us-east-1")
        self.sfn = boto3.client("stepfunctions", region_name="us-east-1")
        self.definitions = _table_definitions()
        self.modules: dict[str, ModuleType] = {}

    def reset(self) -> None:
        for name in self.ddb.list_tables()["TableNames"]:
            self.ddb.delete_table(TableName=name)
        for kwargs in self.definitions.values():
            self.ddb.create_table(**kwargs)
        for machine in self.sfn.list_state_machines()["stateMachines"]:
            self.sfn.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
        # moto does not run executions here (no execute_state_machine): they stay RUNNING.
        self.sfn.create_state_machine(
            name=STATE_MACHINE, roleArn="arn:aws:iam::123456789012:role/sfn",
            definition='{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}')

    def item(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self.ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


# Module scope: tests/unit/booking is not a Python package, and pytest then keeps a
# "package" fixture (and this mock) alive for the rest of the session.
@pytest.fixture(scope="module")
def cloud(load_module: Any) -> Iterator[Cloud]:
    patch = pytest.MonkeyPatch()
    for key, value in ENV.items():
        patch.setenv(key, value)
    patch.delenv("AWS_ENDPOINT_URL", raising=False)
    from common import aws, observability

    aws.clear_cache()
    observability.reset()
    with mock_aws():
        c = Cloud()
        for name, path in (("api", "api/app.py"), ("payment", "payment/app.py"),
                           ("confirm", "confirm/app.py"), ("cancel", "cancel/app.py")):
            c.modules[name] = load_module(f"functions/booking/{path}", f"booking_{name}_app")
        yield c
    aws.clear_cache()
    observability.reset()
    patch.undo()


@pytest.fixture
def aws(cloud: Cloud) -> Cloud:
    cloud.reset()
    return cloud


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def _emf_records(text: str, metric: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            record = json.loads(line)
            if metric in record:
                out.append(record)
    return out


@pytest.fixture
def emf() -> Callable[[str, str], list[dict[str, Any]]]:
    """emf(printed text, metric name) -> the EMF records of that metric."""
    return _emf_records
