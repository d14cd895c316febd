"""ebs_snapshots test set-up: the function's modules importable, moto EC2 in two regions.

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
FUNCTION_DIR = ROOT / "functions" / "ebs_snapshots" / "snapshots"

if str(FUNCTION_DIR) not in sys.path:
    sys.path.insert(0, str(FUNCTION_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "ebs_snapshots")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")

MANAGED = "local-EbsSnapshots"


@pytest.fixture
def regions() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {"us-east-1": boto3.client("ec2", region_name="us-east-1"),
               "us-west-2": boto3.client("ec2", region_name="us-west-2")}


def volume(ec2: Any, tags: dict[str, str]) -> str:
    return ec2.create_volume(Size=1, AvailabilityZone="us-east-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ])["VolumeId"]


def ours(ec2: Any, managed_by: str = MANAGED) -> list[dict[str, Any]]:
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "tag:scheduler:ebs-snapshot:managed-by", "Values": [managed_by]}])["Snapshots"]


def tags_of(snapshot: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in snapshot.get("Tags", [])}
