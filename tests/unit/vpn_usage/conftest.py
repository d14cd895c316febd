"""vpn_usage test set-up: the aggregation's sibling modules importable, and the app's tables,
bucket and queues created in moto from stacks/vpn_usage.yaml (so the tests follow the template).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
AGGREGATE_DIR = ROOT / "functions" / "vpn_usage" / "aggregate"
EVENTS = ROOT / "events" / "vpn_usage"

# app.py imports its sibling modules by name, as it does in the Lambda task root.
if str(AGGREGATE_DIR) not in sys.path:
    sys.path.insert(0, str(AGGREGATE_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "vpn_usage")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")


@dataclass
class LambdaContext:
    function_name: str = "vpn_usage-fn"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:vpn_usage-fn"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@dataclass
class Resources:
    ddb: Any
    s3: Any
    sqs: Any
    device_table: str
    accounts_table: str
    bucket: str
    limit_queue_url: str


def _table_kwargs(name: str, props: dict[str, Any]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"TableName": name, "KeySchema": props["KeySchema"],
                              "AttributeDefinitions": props["AttributeDefinitions"],
                              "BillingMode": "PAY_PER_REQUEST"}
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return kwargs


@pytest.fixture
def resources() -> Iterator[Resources]:
    """The app's tables (schemas from the template), lake bucket and limit queue in moto."""
    template = cfn_yaml.load(ROOT / "stacks" / "vpn_usage.yaml")["Resources"]
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for logical_id, name in (("DeviceUsageTable", "devices"), ("AccountsTable", "accounts")):
            ddb.create_table(**_table_kwargs(name, template[logical_id]["Properties"]))
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lake")
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="limit")["QueueUrl"]
        yield Resources(ddb, s3, sqs, "devices", "accounts", "lake", url)


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()
