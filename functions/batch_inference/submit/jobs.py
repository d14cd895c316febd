"""Submitting a batch inference job: check the request, record the job, start the workflow.

Shared by the HTTP API (app.py) and the S3 manifest trigger (manifest.py). A request names,
inside the app's data bucket, a model artifact (an npz-mlp/1 `.npz`, see
functions/batch_inference/worker/model_format.py), an input prefix and an output prefix:

    {"model_key": "models/churn-mlp-v1.npz", "input_prefix": "inputs/2024-06/",
     "output_prefix": "outputs/2024-06/", "name": "june", "shard_count": 8}
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from common.validation import ValidationError, require_number, require_object, require_str

_KEY = re.compile(r"[A-Za-z0-9!_.*'()/=-]{1,900}")
# Prefixes the app writes itself: jobs/ (manifests, reports) and manifests/ (the trigger).
RESERVED = ("jobs/", "manifests/")
_ABSENT = ("404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden")


@dataclass(frozen=True)
class JobRequest:
    model_key: str
    input_prefix: str
    output_prefix: str
    name: str | None
    shard_count: int | None


def _key(body: dict[str, Any], field: str, prefix: bool) -> str:
    value = require_str(body, field, max_length=900)
    assert value is not None
    value = value.lstrip("/")
    if prefix and not value.endswith("/"):
        value += "/"
    if not _KEY.fullmatch(value) or ".." in value or "//" in value:
        raise ValidationError(f"Field '{field}' must be an S3 key in the data bucket (letters, "
                              "digits and !_.*'()/=- only)", field=field)
    if value.startswith(RESERVED):
        raise ValidationError(f"Field '{field}' must not be under {' or '.join(RESERVED)} "
                              "(the app's own prefixes)", field=field)
    return value


def parse_request(body: Any, max_shards: int) -> JobRequest:
    """The job a request body asks for, or ValidationError (400) naming what is wrong."""
    body = require_object(body)
    unknown = sorted(set(body) - {"model_key", "input_prefix", "output_prefix", "name",
                                  "shard_count"})
    if unknown:
        raise ValidationError(f"Unknown field(s): {', '.join(unknown)}", field=unknown[0])
    model_key = _key(body, "model_key", prefix=False)
    if not model_key.endswith(".npz"):
        raise ValidationError("Field 'model_key' must name an .npz model artifact",
                              field="model_key")
    input_prefix = _key(body, "input_prefix", prefix=True)
    output_prefix = _key(body, "output_prefix", prefix=True)
    if input_prefix.startswith(output_prefix) or output_prefix.startswith(input_prefix):
        # Outputs inside the inputs would be scored again by the next run, and vice versa.
        raise ValidationError("'input_prefix' and 'output_prefix' must not contain each other",
                              field="output_prefix")
    shards = require_number(body, "shard_count", integer=True, minimum=1, maximum=max_shards,
                            optional=True)
    name = require_str(body, "name", max_length=200, optional=True)
    return JobRequest(model_key, input_prefix, output_prefix, name,
                      None if shards is None else int(shards))


def manifest_job_id(key: str, etag: str) -> str:
    """The job id of a manifest object: the same upload delivered twice is one job."""
    return hashlib.sha256(f"{key}#{etag.strip(chr(34))}".encode()).hexdigest()[:32]


def _iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def job_item(request: JobRequest, job_id: str, source: str, now: float,
             ttl_days: int) -> dict[str, Any]:
    stamp = _iso(now)
    item: dict[str, Any] = {
        "job_id": job_id, "status": "SUBMITTED", "source": source,
        "model_key": request.model_key, "input_prefix": request.input_prefix,
        "output_prefix": request.output_prefix, "created_at": stamp, "updated_at": stamp,
        "expires_at": int(now) + ttl_days * 86_400,
    }
    if request.name:
        item["name"] = request.name
    if request.shard_count:
        item["shard_count"] = request.shard_count
    return item


def _plain(value: Any) -> Any:
    # DynamoDB numbers come back as Decimal; the API shows them as JSON numbers.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def job_view(item: dict[str, Any]) -> dict[str, Any]:
    """What GET /inference-jobs/{id} shows: the item without its TTL, with links."""
    view = {k: _plain(v) for k, v in item.items() if k != "expires_at"}
    view["links"] = {"self": f"/inference-jobs/{item['job_id']}"}
    return view


class JobService:
    """The jobs table, the data bucket, the state machine and the topic."""

    def __init__(self, table: Any, s3: Any, sfn: Any, sns: Any, bucket: str,
                 state_machine_arn: str, topic_arn: str, max_shards: int = 64,
                 ttl_days: int = 90) -> None:
        self.table, self.s3, self.sfn, self.sns = table, s3, sfn, sns
        self.bucket, self.state_machine_arn, self.topic_arn = bucket, state_machine_arn, topic_arn
        self.max_shards, self.ttl_days = max_shards, ttl_days

    def check_sources(self, request: JobRequest) -> None:
        """400 when the model artifact or every input file is missing."""
        try:
            self.s3.head_object(Bucket=self.bucket, Key=request.model_key)
        except ClientError as err:
            if err.response["Error"]["Code"] in _ABSENT:
                raise ValidationError(f"No model artifact {request.model_key!r} in the data "
                                      "bucket", field="model_key") from err
            raise
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=request.input_prefix,
                                         MaxKeys=1)
        if not listed.get("KeyCount"):
            raise ValidationError(f"No input file under {request.input_prefix!r}",
                                  field="input_prefix")

    def submit(self, request: JobRequest, job_id: str, source: str,
               now: float | None = None) -> tuple[dict[str, Any], bool]:
        """Record the job and start its execution (named after the job); (item, created).
        An id already recorded (a redelivered manifest) starts nothing again."""
        self.check_sources(request)
        item = job_item(request, job_id, source, time.time() if now is None else now,
                        self.ttl_days)
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                existing = self.table.get_item(Key={"job_id": job_id},
                                               ConsistentRead=True).get("Item")
                return existing or item, False
            raise
        try:
            started = self.sfn.start_execution(stateMachineArn=self.state_machine_arn,
                                               name=job_id, input=json.dumps({"job_id": job_id}))
        except ClientError as err:
            reason = f"the workflow could not be started: {err.response['Error']['Code']}"
            self.table.update_item(
                Key={"job_id": job_id}, UpdateExpression="SET #s = :s, #e = :e",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={":s": "FAILED", ":e": {"error": "StartFailed",
                                                                  "reason": reason}})
            raise
        self.table.update_item(Key={"job_id": job_id},
                               UpdateExpression="SET execution_arn = :a",
                               ExpressionAttributeValues={":a": started["executionArn"]})
        item["execution_arn"] = started["executionArn"]
        return item, True

    def reject(self, job_id: str, source: str, reason: str, now: float | None = None) -> None:
        """Record a manifest that cannot become a job (REJECTED) and notify; once per id."""
        now = time.time() if now is None else now
        try:
            self.table.put_item(Item={"job_id": job_id, "status": "REJECTED", "source": source,
                                      "error": {"error": "InvalidManifest", "reason": reason},
                                      "created_at": _iso(now), "updated_at": _iso(now),
                                      "expires_at": int(now) + self.ttl_days * 86_400},
                                ConditionExpression="attribute_not_exists(job_id)")
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return
            raise
        self.sns.publish(TopicArn=self.topic_arn, Subject=f"Batch inference job {job_id[:12]} "
                         "REJECTED", Message=json.dumps({"job_id": job_id, "status": "REJECTED",
                                                         "source": source, "reason": reason}),
                         MessageAttributes={"status": {"DataType": "String",
                                                       "StringValue": "REJECTED"}})

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
