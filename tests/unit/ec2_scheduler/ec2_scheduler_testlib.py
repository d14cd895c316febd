"""ec2_scheduler test set-up: the function's sibling module importable, a moto EC2.

Shared by the test modules under this unique name: the test folders are not packages,
so `from conftest import` could find another app's conftest in a whole-suite run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
FUNCTION_DIR = ROOT / "functions" / "ec2_scheduler" / "scheduler"

# app.py imports its sibling module by name, as it does in the Lambda task root.
if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ec2_scheduler")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")

AMI = "ami-12c6146b"  # one of moto's built-in images


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def launch(ec2: Any, tag: str | None, *, stopped: bool = False, count: int = 1) -> list[str]:
    """Instances with the schedule tag (None: untagged), running or stopped."""
    kwargs: dict[str, Any] = {"ImageId": AMI, "MinCount": count, "MaxCount": count}
    if tag is not None:
        kwargs["TagSpecifications"] = [{"ResourceType": "instance",
                                        "Tags": [{"Key": "EntScheduler", "Value": tag}]}]
    ids = [i["InstanceId"] for i in ec2.run_instances(**kwargs)["Instances"]]
    if stopped:
        ec2.stop_instances(InstanceIds=ids)
    return ids


def states(ec2: Any, ids: list[str]) -> dict[str, str]:
    out = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in out for i in r["Instances"]}
