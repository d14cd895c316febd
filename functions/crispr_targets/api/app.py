"""The jobs API: POST /jobs, GET /jobs/{job_id}, GET /jobs/{job_id}/targets (HTTP API v2).

POST checks the sequence (inline, or one FASTA record in the data bucket under inputs/) and
writes a QUEUED job; the jobs table's stream starts the finder, so the request returns at
once (202). The GET routes are what a UI polls.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from dna_input import normalise_sequence

from common import aws
from common.http import HttpError, api_handler, json_response, parse_json_body
from common.observability import get_logger, get_metrics, get_tracer
from common.validation import (
    ValidationError,
    require_number,
    require_object,
    require_str,
)

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

INPUT_PREFIX = "inputs/"
_GENOME_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_JOB_ID = re.compile(r"[0-9a-f]{32}")
_INPUT_KEY = re.compile(r"inputs/[A-Za-z0-9!_.*'()/-]{1,900}")
FASTA_OVERHEAD = 64 * 1024  # headers and line breaks a FASTA file adds to its sequence
MAX_PAGE = 500
# Without s3:ListBucket (not granted) S3 answers a missing key with 403, not 404.
_ABSENT = ("404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden")


@dataclass(frozen=True)
class Settings:
    """Limits and defaults from the function's environment (see stacks/crispr_targets.yaml)."""

    max_sequence_length: int = 20_000
    default_max_mismatches: int = 3
    max_mismatches_limit: int = 5
    default_genome: str = "synthetic-v1"
    job_ttl_days: int = 30

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            max_sequence_length=int(env.get("MAX_SEQUENCE_LENGTH", cls.max_sequence_length)),
            default_max_mismatches=int(
                env.get("DEFAULT_MAX_MISMATCHES", cls.default_max_mismatches)),
            max_mismatches_limit=int(env.get("MAX_MISMATCHES_LIMIT", cls.max_mismatches_limit)),
            default_genome=env.get("DEFAULT_GENOME", cls.default_genome),
            job_ttl_days=int(env.get("JOB_TTL_DAYS", cls.job_ttl_days)),
        )


@dataclass(frozen=True)
class JobRequest:
    """A checked POST /jobs body; exactly one of `sequence` and `s3_key` is set."""

    sequence: str | None
    s3_key: str | None
    genome: str
    max_mismatches: int
    name: str | None


def parse_job_request(body: Any, settings: Settings) -> JobRequest:
    """The job a POST body asks for, or ValidationError (400) naming what is wrong."""
    body = require_object(body)
    has_sequence, has_key = body.get("sequence") is not None, body.get("s3_key") is not None
    if has_sequence == has_key:
        raise ValidationError("Give exactly one of 'sequence' (DNA text or FASTA) and 's3_key' "
                              "(a FASTA object under inputs/ in the data bucket)")
    sequence = None
    s3_key = None
    if has_sequence:
        text = require_str(body, "sequence")
        assert text is not None
        sequence = normalise_sequence(text, settings.max_sequence_length)
    else:
        s3_key = require_str(body, "s3_key", max_length=1024)
        assert s3_key is not None
        if not _INPUT_KEY.fullmatch(s3_key) or ".." in s3_key:
            raise ValidationError(f"Field 's3_key' must be a key under {INPUT_PREFIX} "
                                  "(letters, digits and !_.*'()/- only)", field="s3_key")
    k = require_number(body, "max_mismatches", integer=True, minimum=0,
                       maximum=settings.max_mismatches_limit, optional=True)
    genome = require_str(body, "genome", optional=True) or settings.default_genome
    if not _GENOME_ID.fullmatch(genome):
        raise ValidationError("Field 'genome' must be 1-64 letters, digits, '.', '_' or '-'",
                              field="genome")
    name = require_str(body, "name", max_length=200, optional=True)
    return JobRequest(sequence=sequence, s3_key=s3_key, genome=genome,
                      max_mismatches=settings.default_max_mismatches if k is None else int(k),
                      name=name)


def new_job_item(request: JobRequest, sequence: str, job_id: str, now: float,
                 ttl_days: int) -> dict[str, Any]:
    """The jobs-table item of a new job (status QUEUED)."""
    stamp = _iso(now)
    item: dict[str, Any] = {
        "job_id": job_id,
        "status": "QUEUED",
        "sequence": sequence,
        "sequence_length": len(sequence),
        "source": request.s3_key or "inline",
        "genome": request.genome,
        "max_mismatches": request.max_mismatches,
        "created_at": stamp,
        "updated_at": stamp,
        "expires_at": int(now) + ttl_days * 86_400,
    }
    if request.name:
        item["name"] = request.name
    return item


def job_view(item: dict[str, Any]) -> dict[str, Any]:
    """What GET /jobs/{id} shows: the item without the sequence itself and the TTL."""
    view = {k: v for k, v in item.items() if k not in ("sequence", "expires_at")}
    view["links"] = {"self": f"/jobs/{item['job_id']}",
                     "targets": f"/jobs/{item['job_id']}/targets"}
    return view


def target_view(item: dict[str, Any]) -> dict[str, Any]:
    """One target as GET /jobs/{id}/targets shows it (off-target fields null until scored)."""
    return {
        "target_id": item["target_id"],
        "position": item["position"],
        "strand": item["strand"],
        "protospacer": item["protospacer"],
        "pam": item["pam"],
        "gc": item["gc"],
        "activity": item["activity"],
        "offtarget_counts": item.get("offtarget_counts"),
        "specificity": item.get("specificity"),
        "offtarget_hits": item.get("offtarget_hits"),
    }


def encode_token(key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode()


def decode_token(token: str, job_id: str) -> dict[str, Any]:
    """The LastEvaluatedKey a next_token stands for; 400 when it is not one of this job's."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as err:
        raise ValidationError("Parameter 'next_token' is not valid", field="next_token") from err
    if (not isinstance(key, dict) or set(key) != {"job_id", "target_id"}
            or key["job_id"] != job_id or not isinstance(key["target_id"], str)):
        raise ValidationError("Parameter 'next_token' is not valid", field="next_token")
    return key


def _iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


class JobStore:
    """The jobs and targets tables and the data bucket, behind the calls the API makes."""

    def __init__(self, dynamodb: Any, s3: Any, jobs_table: str, targets_table: str,
                 bucket: str) -> None:
        self.jobs = dynamodb.Table(jobs_table)
        self.targets = dynamodb.Table(targets_table)
        self.s3 = s3
        self.bucket = bucket

    @classmethod
    def from_env(cls) -> JobStore:
        return cls(aws.resource("dynamodb"), aws.client("s3"), os.environ.get("JOBS_TABLE", ""),
                   os.environ.get("TARGETS_TABLE", ""), os.environ.get("DATA_BUCKET", ""))

    def genome_loaded(self, genome: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=f"genomes/{genome}/manifest.json")
        except ClientError as err:
            if err.response["Error"]["Code"] in _ABSENT:
                return False
            raise
        return True

    def read_input(self, key: str, max_bytes: int) -> str:
        """The text of an input object; ValidationError when it is missing or too large."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            if err.response["Error"]["Code"] in _ABSENT:
                raise ValidationError(f"No object {key!r} in the data bucket (or it is not "
                                      "readable)", field="s3_key") from err
            raise
        if head["ContentLength"] > max_bytes:
            raise ValidationError(f"Object {key!r} is {head['ContentLength']} bytes; the limit "
                                  f"is {max_bytes} bytes", field="s3_key")
        body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read(max_bytes + 1)
        try:
            return body.decode("ascii")
        except UnicodeDecodeError as err:
            raise ValidationError(f"Object {key!r} is not a text FASTA file",
                                  field="s3_key") from err

    def put_job(self, item: dict[str, Any]) -> None:
        self.jobs.put_item(Item=item, ConditionExpression="attribute_not_exists(job_id)")

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")

    def targets_page(self, job_id: str, limit: int,
                     start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], dict | None]:
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "job_id = :j",
            "ExpressionAttributeValues": {":j": job_id},
            "Limit": limit,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = self.targets.query(**kwargs)
        return page.get("Items", []), page.get("LastEvaluatedKey")


def create_job(body: Any, store: JobStore, settings: Settings,
               now: float | None = None) -> dict[str, Any]:
    """POST /jobs: 202 with the new job, or 400."""
    request = parse_job_request(body, settings)
    if request.s3_key is not None:
        text = store.read_input(request.s3_key,
                                settings.max_sequence_length * 2 + FASTA_OVERHEAD)
        sequence = normalise_sequence(text, settings.max_sequence_length, field="s3_key")
    else:
        assert request.sequence is not None
        sequence = request.sequence
    if not store.genome_loaded(request.genome):
        raise ValidationError(f"Genome {request.genome!r} is not loaded in the data bucket",
                              field="genome")
    job_id = uuid.uuid4().hex
    item = new_job_item(request, sequence, job_id, time.time() if now is None else now,
                        settings.job_ttl_days)
    store.put_job(item)
    logger.info("Job queued", extra={"job_id": job_id, "sequence_length": len(sequence),
                                     "genome": request.genome, "source": item["source"]})
    metrics.add_metric(name="JobsQueued", unit="Count", value=1)
    return json_response(202, job_view(item), headers={"Location": f"/jobs/{job_id}"})


def _job_id(event: dict[str, Any]) -> str:
    job_id = (event.get("pathParameters") or {}).get("job_id", "")
    if not _JOB_ID.fullmatch(job_id):
        raise HttpError(404, f"No job {job_id!r}")
    return job_id


def get_job(event: dict[str, Any], store: JobStore) -> dict[str, Any]:
    """GET /jobs/{job_id}: the job, or 404."""
    job_id = _job_id(event)
    item = store.get_job(job_id)
    if item is None:
        raise HttpError(404, f"No job {job_id!r}")
    return job_view(item)


def list_targets(event: dict[str, Any], store: JobStore) -> dict[str, Any]:
    """GET /jobs/{job_id}/targets?limit=&next_token=: one page of targets in position order."""
    job_id = _job_id(event)
    item = store.get_job(job_id)
    if item is None:
        raise HttpError(404, f"No job {job_id!r}")
    query = event.get("queryStringParameters") or {}
    try:
        limit = int(query.get("limit", 100))
    except ValueError as err:
        raise ValidationError("Parameter 'limit' must be an integer", field="limit") from err
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"Parameter 'limit' must be 1 to {MAX_PAGE}", field="limit")
    start = decode_token(query["next_token"], job_id) if query.get("next_token") else None
    items, last = store.targets_page(job_id, limit, start)
    return {
        "job_id": job_id,
        "status": item["status"],
        "target_count": item.get("target_count"),
        "targets": [target_view(t) for t in items],
        "next_token": encode_token(last) if last else None,
    }


ROUTES = {"POST /jobs", "GET /jobs/{job_id}", "GET /jobs/{job_id}/targets"}


def route(event: dict[str, Any], store: JobStore, settings: Settings) -> Any:
    """Dispatch on the HTTP API route key."""
    key = event.get("routeKey")
    if key == "POST /jobs":
        return create_job(parse_json_body(event), store, settings)
    if key == "GET /jobs/{job_id}":
        return get_job(event, store)
    if key == "GET /jobs/{job_id}/targets":
        return list_targets(event, store)
    raise HttpError(404, f"No route {key!r}")


STORE = JobStore.from_env()
SETTINGS = Settings.from_env()


@api_handler
def _api(event: dict[str, Any], context: Any) -> Any:
    return route(event, STORE, SETTINGS)


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point (HTTP API payload format 2.0)."""
    return _api(event, context)
