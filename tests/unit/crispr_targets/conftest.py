"""crispr_targets unit tests: the functions' folders importable, moto-backed tables and bucket."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
FUNCTIONS = ROOT / "functions" / "crispr_targets"

# On Lambda each function's folder is the code root; here all four stand in for it. Their
# helper modules have distinct names, so one path serves them all.
for folder in ("api", "finder", "workflow", "genome"):
    if str(FUNCTIONS / folder) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS / folder))

@dataclass
class Aws:
    """The moto resources an app module's store is built from."""

    dynamodb: Any
    s3: Any
    sfn: Any
    iam: Any
    jobs_table: str
    targets_table: str
    bucket: str

    def jobs(self) -> Any:
        return self.dynamodb.Table(self.jobs_table)

    def targets(self) -> Any:
        return self.dynamodb.Table(self.targets_table)


@pytest.fixture(scope="session")
def clients() -> dict[str, Any]:
    # Built once: moto intercepts clients made before a mock starts, and building them is
    # most of a fresh mock's cost.
    return {"dynamodb": boto3.resource("dynamodb", region_name="us-east-1"),
            "s3": boto3.client("s3", region_name="us-east-1"),
            "sfn": boto3.client("stepfunctions", region_name="us-east-1"),
            "iam": boto3.client("iam", region_name="us-east-1")}


@pytest.fixture
def aws(clients: dict[str, Any]) -> Iterator[Aws]:
    """The app's two tables and its bucket, as the stack declares them, in moto.

    Names are unique per test: when another suite's mock is still active, moto does not reset
    its backends for a nested mock, and these tests must not see anybody's leftovers.
    """
    suffix = uuid.uuid4().hex[:12]
    jobs, targets, bucket = f"jobs-{suffix}", f"targets-{suffix}", f"crispr-data-{suffix}"
    with mock_aws():
        dynamodb = clients["dynamodb"]
        dynamodb.create_table(
            TableName=jobs, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}])
        dynamodb.create_table(
            TableName=targets, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "job_id", "AttributeType": "S"},
                                  {"AttributeName": "target_id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"},
                       {"AttributeName": "target_id", "KeyType": "RANGE"}])
        clients["s3"].create_bucket(Bucket=bucket)
        yield Aws(dynamodb, clients["s3"], clients["sfn"], clients["iam"], jobs, targets, bucket)


APP_ENV = {
    "POWERTOOLS_SERVICE_NAME": "crispr_targets",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessCollection",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


def _load(load_module: Any, function: str) -> Any:
    # The stack's environment while the module is built (its logger, metrics and settings
    # read it then); other apps' tests keep theirs.
    with pytest.MonkeyPatch.context() as mp:
        for key, value in APP_ENV.items():
            mp.setenv(key, value)
        return load_module(f"functions/crispr_targets/{function}/app.py",
                           f"crispr_targets_{function}_app")


@pytest.fixture(scope="session")
def api_app(load_module: Any) -> Any:
    return _load(load_module, "api")


@pytest.fixture(scope="session")
def finder_app(load_module: Any) -> Any:
    return _load(load_module, "finder")


@pytest.fixture(scope="session")
def workflow_app(load_module: Any) -> Any:
    return _load(load_module, "workflow")


@pytest.fixture(scope="session")
def genome_app(load_module: Any) -> Any:
    return _load(load_module, "genome")
