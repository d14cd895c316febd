"""batch_inference unit tests: the functions' folders importable, moto-backed table and bucket."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions" / "batch_inference"

# On Lambda each function's folder is the code root; here all three stand in for it. Their
# module names do not collide except `app`, which tests load by path.
for folder in ("worker", "workflow", "submit"):
    if str(FUNCTIONS / folder) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS / folder))

APP_ENV = {
    "POWERTOOLS_SERVICE_NAME": "batch_inference",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessCollection",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    """The jobs table, the data bucket, a state machine stub and a topic, in moto.

    Names are unique per test: when another suite's mock is still active, moto does not reset
    its backends for a nested mock.
    """
    suffix = uuid.uuid4().hex[:12]
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName=f"jobs-{suffix}", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}])
        bucket = f"bi-data-{suffix}"
        s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        sm = sfn.create_state_machine(
            name=f"jobs-{suffix}", roleArn="arn:aws:iam::123456789012:role/x",
            definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
        sns = boto3.client("sns", region_name="us-east-1")
        topic = sns.create_topic(Name=f"jobs-{suffix}")["TopicArn"]
        yield SimpleNamespace(dynamodb=dynamodb, s3=s3, table=table, bucket=bucket, sfn=sfn,
                              state_machine_arn=sm["stateMachineArn"], sns=sns, topic=topic)


def _load(load_module: Any, function: str, module: str = "app") -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in APP_ENV.items():
            mp.setenv(key, value)
        return load_module(f"functions/batch_inference/{function}/{module}.py",
                           f"batch_inference_{function}_{module}")


@pytest.fixture(scope="session")
def workflow_app(load_module: Any) -> Any:
    return _load(load_module, "workflow")


@pytest.fixture(scope="session")
def api_app(load_module: Any) -> Any:
    return _load(load_module, "submit")


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(function_name="batch-inference-test", memory_limit_in_mb=256,
                           invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:"
                                                "function:batch-inference-test",
                           aws_request_id="req-1", get_remaining_time_in_millis=lambda: 10_000)
