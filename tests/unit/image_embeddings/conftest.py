"""image_embeddings unit tests: the functions' folders importable, a generated model, moto."""

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
FUNCTIONS = ROOT / "functions" / "image_embeddings"

# On Lambda each function's folder is the code root; here they stand in for it. Module names
# do not collide except `app`, which tests load by path.
for folder in ("embed", "api", "workflow"):
    if str(FUNCTIONS / folder) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS / folder))

APP_ENV = {
    "POWERTOOLS_SERVICE_NAME": "image_embeddings",
    "POWERTOOLS_METRICS_NAMESPACE": "ServerlessCollection",
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The exported model (seed 7): what ModelFunction uploads, written to a folder."""
    import export_model

    return export_model.export_files(7, tmp_path_factory.mktemp("model"))


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    """The embeddings table and the images bucket in moto (unique names per test)."""
    suffix = uuid.uuid4().hex[:12]
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = f"embeddings-{suffix}"
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "ImageId",
                                                "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "ImageId", "KeyType": "HASH"}])
        s3 = boto3.client("s3", region_name="us-east-1")
        bucket = f"ie-images-{suffix}"
        s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        sm = sfn.create_state_machine(
            name=f"runs-{suffix}", roleArn="arn:aws:iam::123456789012:role/x",
            definition='{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}')
        yield SimpleNamespace(ddb=ddb, table=table, s3=s3, bucket=bucket, sfn=sfn,
                              state_machine_arn=sm["stateMachineArn"])


def _load(load_module: Any, function: str) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in APP_ENV.items():
            mp.setenv(key, value)
        return load_module(f"functions/image_embeddings/{function}/app.py",
                           f"image_embeddings_{function}_app")


@pytest.fixture(scope="session")
def workflow_app(load_module: Any) -> Any:
    return _load(load_module, "workflow")


@pytest.fixture(scope="session")
def api_app(load_module: Any) -> Any:
    return _load(load_module, "api")


@pytest.fixture
def lambda_context() -> SimpleNamespace:
    return SimpleNamespace(function_name="image-embeddings-test", memory_limit_in_mb=256,
                           invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:"
                                                "function:image-embeddings-test",
                           aws_request_id="req-1", get_remaining_time_in_millis=lambda: 10_000)
