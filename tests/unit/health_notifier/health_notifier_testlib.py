"""health_notifier test set-up: the function's sibling module importable, moto EC2.

Shared by the test modules under this unique name: the test folders are not packages,
so `from conftest import` could find another app's conftest in a whole-suite run.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_DIR = ROOT / "functions" / "health_notifier" / "notifier"
EVENTS = ROOT / "events" / "health_notifier"

if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "health_notifier")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")


def sample(name: str, **entities: Any) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    if "ids" in entities:
        event["detail"]["affectedEntities"] = [{"entityValue": i} for i in entities["ids"]]
        event["resources"] = list(entities["ids"])
    return event


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def launch(ec2: Any, tags: dict[str, str] | None = None, stopped: bool = False) -> str:
    kwargs: dict[str, Any] = {"ImageId": "ami-12c6146b", "MinCount": 1, "MaxCount": 1}
    if tags:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance", "Tags": [
            {"Key": k, "Value": v} for k, v in tags.items()]}]
    iid = ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"]
    if stopped:
        ec2.stop_instances(InstanceIds=[iid])
    return iid


def describe(ec2: Any, iid: str) -> dict[str, Any]:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
