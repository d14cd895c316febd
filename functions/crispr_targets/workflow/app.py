"""The steps of the scoring workflow (statemachines/crispr_targets.asl.json).

Each Task sends {"step": <name>, "input": <state input>}:
- plan: split the job's targets into batches (S3) and list the (batch, chunk) work items;
- score: one batch against one genome chunk, numpy mismatch counting, result to S3;
- aggregate: sum each target's counts over the chunks, score it, write the targets, job DONE;
- fail: the job FAILED with the reason of the error the workflow caught.

State payloads stay small (indices and counts); targets, chunks and partial results live in
the data bucket, since a state's input and output are limited to 256 KB.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from offtargets import chunk_sites, score_batch

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

STEPS = ("plan", "score", "aggregate", "fail")
# Weight of one off-target with m mismatches in the specificity score (halves per mismatch).
MISMATCH_WEIGHT = 0.5
BEST_TARGETS = 5
MAX_REASON = 1000


class StepError(ValueError):
    """The step's input or the job's data is not what the workflow expects (no retry helps)."""


class ChunkUnavailable(RuntimeError):
    """A genome chunk cannot be read; the Map retries the item, then the job fails."""


@dataclass(frozen=True)
class Settings:
    target_batch_size: int = 50
    max_work_items: int = 1000
    max_concurrency: int = 8
    max_hits: int = 20

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            target_batch_size=int(env.get("TARGET_BATCH_SIZE", cls.target_batch_size)),
            max_work_items=int(env.get("MAX_WORK_ITEMS", cls.max_work_items)),
            max_concurrency=int(env.get("SCORE_MAX_CONCURRENCY", cls.max_concurrency)),
            max_hits=int(env.get("MAX_HITS_PER_TARGET", cls.max_hits)),
        )


def batch_size(targets: int, chunks: int, settings: Settings) -> int:
    """Targets per batch: the configured size, larger when needed to keep batches x chunks
    within max_work_items (the Map's item list must fit in a state's payload)."""
    max_batches = max(1, settings.max_work_items // max(chunks, 1))
    return max(settings.target_batch_size, math.ceil(targets / max_batches))


def specificity(counts: list[int]) -> float:
    """100 / (1 + weighted off-targets); one perfect match is the target's own site.

    A site with m mismatches weighs 0.5**m, so another perfect copy halves the score. It is a
    ranking aid for the UI, not a published score (MIT and CFD weigh each position).
    """
    off = list(counts)
    if off and off[0] > 0:
        off[0] -= 1
    weighted = sum(n * MISMATCH_WEIGHT ** m for m, n in enumerate(off))
    return round(100.0 / (1.0 + weighted), 2)


def failure_reason(failure: Any) -> tuple[str, str]:
    """(error name, readable reason) of a Catch's {"Error", "Cause"}: a Lambda error's Cause
    is JSON holding errorMessage, other causes are plain text."""
    if not isinstance(failure, dict):
        return "WorkflowFailed", "the workflow failed without an error description"
    error = str(failure.get("Error") or "WorkflowFailed")
    cause = failure.get("Cause")
    reason = cause if isinstance(cause, str) else ""
    try:
        parsed = json.loads(reason) if reason else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        reason = str(parsed["errorMessage"])
    return error, (reason or error)[:MAX_REASON]


class Store:
    """The tables and the data bucket, behind the calls the steps make."""

    def __init__(self, dynamodb: Any, s3: Any, jobs_table: str, targets_table: str,
                 bucket: str) -> None:
        self.jobs = dynamodb.Table(jobs_table)
        self.targets = dynamodb.Table(targets_table)
        self.s3 = s3
        self.bucket = bucket

    @classmethod
    def from_env(cls) -> Store:
        env = os.environ
        return cls(aws.resource("dynamodb"), aws.client("s3"), env.get("JOBS_TABLE", ""),
                   env.get("TARGETS_TABLE", ""), env.get("DATA_BUCKET", ""))

    def get_job(self, job_id: str) -> dict[str, Any]:
        item = self.jobs.get_item(Key={"job_id": job_id}, ConsistentRead=True).get("Item")
        if item is None:
            raise StepError(f"no job {job_id!r}")
        return item

    def read_json(self, key: str, what: str) -> Any:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as err:
            problem = _absent(err)
            if problem:
                raise StepError(f"{what} {key} {problem}") from err
            raise
        return json.loads(body)

    def put_json(self, key: str, value: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value).encode(),
                           ContentType="application/json")

    def read_chunk(self, key: str) -> tuple[str, int, int]:
        """(text, 0-based start, core length) of a genome chunk."""
        try:
            obj = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as err:
            problem = _absent(err)
            if problem:
                raise ChunkUnavailable(f"genome chunk {key} {problem}") from err
            raise
        meta = obj.get("Metadata") or {}
        try:
            start, core = int(meta["start"]), int(meta["core"])
        except (KeyError, ValueError) as err:
            raise ChunkUnavailable(f"genome chunk {key} has no start/core metadata") from err
        return obj["Body"].read().decode("ascii"), start, core

    def put_targets(self, items: list[dict[str, Any]]) -> None:
        with self.targets.batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)

    def update_job(self, job_id: str, status: str, allowed_from: tuple[str, ...],
                   fields: dict[str, Any]) -> bool:
        values = {f":{name}": value for name, value in fields.items()}
        sets = "".join(f", #{name} = :{name}" for name in fields)
        allowed = {f":from{i}": s for i, s in enumerate(allowed_from)}
        try:
            self.jobs.update_item(
                Key={"job_id": job_id},
                UpdateExpression=f"SET #status = :status, updated_at = :now{sets}",
                ConditionExpression=f"#status IN ({', '.join(allowed)})",
                ExpressionAttributeNames={"#status": "status",
                                          **{f"#{name}": name for name in fields}},
                ExpressionAttributeValues={":status": status, ":now": _now(), **values,
                                           **allowed},
            )
        except ClientError as err:
            if err.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _absent(err: ClientError) -> str | None:
    """How an object is unavailable, or None for other errors (those are raised as they are).
    Without s3:ListBucket (not granted) S3 answers a missing key with 403, not 404."""
    code = err.response["Error"]["Code"]
    if code in ("NoSuchKey", "404", "NotFound"):
        return "is missing"
    if code in ("AccessDenied", "403", "Forbidden"):
        return "is missing or not readable"
    return None


def _batch_key(job_id: str, b: int) -> str:
    return f"jobs/{job_id}/batches/{b:05d}.json"


def _partial_key(job_id: str, b: int, c: int) -> str:
    return f"jobs/{job_id}/partials/{b:05d}-{c:05d}.json"


def _chunk_key(genome: str, c: int) -> str:
    return f"genomes/{genome}/chunks/{c:05d}.txt"


def _require(data: Any, *names: str) -> dict[str, Any]:
    if not isinstance(data, dict) or any(data.get(n) is None for n in names):
        raise StepError(f"input must be an object with {', '.join(names)}")
    return data


def plan(data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    """Batch the job's targets and list every (batch, chunk) pair for the Map."""
    job_id = _require(data, "job_id")["job_id"]
    job = store.get_job(job_id)
    genome, k = job["genome"], int(job["max_mismatches"])
    manifest = store.read_json(f"genomes/{genome}/manifest.json", "genome manifest")
    chunk_count = len(manifest["chunks"])
    targets = store.read_json(f"jobs/{job_id}/targets.json", "target list")["targets"]
    if not targets or not chunk_count:
        raise StepError(f"job {job_id} has {len(targets)} targets and genome {genome} "
                        f"{chunk_count} chunks; nothing to score")
    size = batch_size(len(targets), chunk_count, settings)
    batches = [targets[i:i + size] for i in range(0, len(targets), size)]
    for b, batch in enumerate(batches):
        store.put_json(_batch_key(job_id, b), {"targets": batch})
    return {
        "job_id": job_id,
        "genome": genome,
        "k": k,
        "target_count": len(targets),
        "batch_count": len(batches),
        "chunk_count": chunk_count,
        "max_concurrency": settings.max_concurrency,
        "work": [{"b": b, "c": c} for b in range(len(batches)) for c in range(chunk_count)],
    }


def score(data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    """Count one batch's near-matches in one chunk; the counts go to S3, a summary back."""
    data = _require(data, "job_id", "genome", "k", "b", "c")
    job_id, b, c, k = data["job_id"], int(data["b"]), int(data["c"]), int(data["k"])
    targets = store.read_json(_batch_key(job_id, b), "target batch")["targets"]
    text, start, core = store.read_chunk(_chunk_key(data["genome"], c))
    sites = chunk_sites(text, start, core)
    result = score_batch([t["protospacer"] for t in targets], sites, k, settings.max_hits)
    store.put_json(_partial_key(job_id, b, c), {
        "b": b, "c": c, "sites": result.sites, "counts": result.counts,
        "hits": [[list(hit) for hit in hits] for hits in result.hits],
    })
    found = sum(sum(counts) for counts in result.counts)
    return {"b": b, "c": c, "sites": result.sites, "hits": found}


def aggregate(data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    """Sum each target's counts over all chunks, score it, store it; the job is DONE."""
    data = _require(data, "job_id", "k", "batch_count", "chunk_count", "scored")
    job_id, k = data["job_id"], int(data["k"])
    batch_count, chunk_count = int(data["batch_count"]), int(data["chunk_count"])
    scored = data["scored"]
    if not isinstance(scored, list) or len(scored) != batch_count * chunk_count:
        raise StepError(f"expected {batch_count * chunk_count} scored items, got "
                        f"{len(scored) if isinstance(scored, list) else 'none'}")
    job = store.get_job(job_id)
    items: list[dict[str, Any]] = []
    for b in range(batch_count):
        targets = store.read_json(_batch_key(job_id, b), "target batch")["targets"]
        totals = [[0] * (k + 1) for _ in targets]
        hits: list[list[list[Any]]] = [[] for _ in targets]
        for c in range(chunk_count):
            partial = store.read_json(_partial_key(job_id, b, c), "partial result")
            for i, counts in enumerate(partial["counts"]):
                totals[i] = [a + n for a, n in zip(totals[i], counts, strict=True)]
                hits[i].extend(partial["hits"][i])
        for target, counts, found in zip(targets, totals, hits, strict=True):
            found.sort(key=lambda hit: (hit[2], hit[0]))
            item = {
                **target,
                "job_id": job_id,
                "gc": Decimal(str(target["gc"])),
                "offtarget_counts": counts,
                "specificity": Decimal(str(specificity(counts))),
                "offtarget_hits": [{"position": p, "strand": s, "mismatches": m}
                                   for p, s, m in found[:settings.max_hits]],
            }
            if job.get("expires_at") is not None:
                item["expires_at"] = job["expires_at"]
            items.append(item)
    store.put_targets(items)
    best = sorted(items, key=lambda t: (-t["specificity"], t["activity"] != "high",
                                        t["target_id"]))[:BEST_TARGETS]
    sites = sum(int(s.get("sites", 0)) for s in scored if isinstance(s, dict)) // batch_count
    comparisons = len(items) * chunk_count
    done = store.update_job(job_id, "DONE", ("SCORING",), {
        "target_count": len(items),
        "genome_sites": sites,
        "comparisons": comparisons,
        "best_targets": [{"target_id": t["target_id"], "specificity": t["specificity"],
                          "activity": t["activity"]} for t in best],
    })
    if not done:
        raise StepError(f"job {job_id} is no longer SCORING")
    metrics.add_metric(name="TargetChunkComparisons", unit="Count", value=comparisons)
    return {"job_id": job_id, "status": "DONE", "target_count": len(items),
            "comparisons": comparisons}


def fail(data: Any, store: Store) -> dict[str, Any]:
    """Record why the workflow failed on the job; the output feeds the Fail state."""
    data = _require(data, "job_id")
    error, reason = failure_reason(data.get("failure"))
    store.update_job(data["job_id"], "FAILED", ("QUEUED", "SCORING"),
                     {"error": {"error": error, "reason": reason}})
    logger.error("Job failed", extra={"job_id": data["job_id"], "error": error,
                                      "reason": reason})
    metrics.add_metric(name="JobsFailed", unit="Count", value=1)
    return {"error": error, "cause": reason}


def run_step(step: Any, data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    """Dispatch to the step's function; an unknown step is a StepError."""
    if step == "plan":
        return plan(data, store, settings)
    if step == "score":
        return score(data, store, settings)
    if step == "aggregate":
        return aggregate(data, store, settings)
    if step == "fail":
        return fail(data, store)
    raise StepError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")


STORE = Store.from_env()
SETTINGS = Settings.from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: {"step": ..., "input": ...} -> the step's result."""
    if not isinstance(event, dict) or "step" not in event:
        raise StepError('the event must be {"step": <step>, "input": <state input>}')
    step = event["step"]
    data = event.get("input")
    logger.append_keys(step=step, job_id=data.get("job_id") if isinstance(data, dict) else None)
    started = time.perf_counter()
    result = run_step(step, data, STORE, SETTINGS)
    logger.info("Step done", extra={"ms": round((time.perf_counter() - started) * 1000, 1)})
    return result
