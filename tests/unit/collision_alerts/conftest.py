"""collision_alerts test set-up: the detector package's modules importable, and its tables and
topic created in moto from stacks/collision_alerts.yaml."""

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
DETECTOR_DIR = ROOT / "functions" / "collision_alerts" / "detector"
EVENTS = ROOT / "events" / "collision_alerts"

# app.py imports its sibling modules by name, as it does in the Lambda task root.
if str(DETECTOR_DIR) not in sys.path:
    sys.path.insert(0, str(DETECTOR_DIR))

os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "collision_alerts")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")


@dataclass
class Aws:
    ddb: Any
    sns: Any
    sqs: Any
    kinesis: Any
    topic_arn: str
    inbox_url: str


@pytest.fixture
def aws() -> Iterator[Aws]:
    """Cache, crashes and vehicles tables (schemas from the template), the alert topic with an
    SQS inbox subscribed, and the candidate stream, in moto."""
    template = cfn_yaml.load(ROOT / "stacks" / "collision_alerts.yaml")["Resources"]
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for logical_id, name in (("TelemetryCacheTable", "cache"), ("CrashesTable", "crashes"),
                                 ("VehiclesTable", "vehicles")):
            props = template[logical_id]["Properties"]
            ddb.create_table(TableName=name, KeySchema=props["KeySchema"],
                             AttributeDefinitions=props["AttributeDefinitions"],
                             BillingMode="PAY_PER_REQUEST")
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                      Attributes={"RawMessageDelivery": "true"})
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="candidates", ShardCount=1)
        yield Aws(ddb, sns, sqs, kinesis, topic, url)
