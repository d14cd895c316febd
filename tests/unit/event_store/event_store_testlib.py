"""event_store test set-up: the function's modules importable, moto tables, a frozen clock.

Shared by the test modules under this unique name: the test folders are not packages,
so `from conftest import` could find another app's conftest in a whole-suite run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_DIR = ROOT / "functions" / "event_store" / "entities"

if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "event_store")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")

T0 = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)


class Clock:
    """A frozen clock that moves only when told (each event one second later by default)."""

    def __init__(self, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        current = self.now
        self.now += self.step
        return current


def make_table(ddb: Any, name: str, sort: bool = True) -> Any:
    keys = [{"AttributeName": "id", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "id", "AttributeType": "S"}]
    if sort:
        keys.append({"AttributeName": "version", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "version", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs,
                     BillingMode="PAY_PER_REQUEST")
    return ddb.Table(name)


@pytest.fixture
def tables() -> Iterator[dict[str, Any]]:
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        yield {"events": make_table(ddb, "events"), "snapshots": make_table(ddb, "snapshots"),
               "projection": make_table(ddb, "projection", sort=False),
               "notifications": make_table(ddb, "notifications", sort=False)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tables, clock):
    from entity_domain import registry
    from eventstore import EventStore

    return EventStore(tables["events"], tables["snapshots"], registry, snapshot_every=10,
                      clock=clock, sleep=lambda _s: None)
