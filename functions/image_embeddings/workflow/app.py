"""The bookkeeping steps of the embeddings state machine (statemachines/image_embeddings.asl.json).

Each Task sends {"step": <name>, "input": <state input>}:
- plan: the seed's submit Lambda: list every image under each of `Paths`, split them into
  batches (BatchSize, default 1,000) and write each batch as a manifest (one key a line) under
  manifests/<run_id>/<path number>-<path hash>/<batch>.txt, so manifests never collide across
  paths or runs. Two images with the same file stem would share an ImageId: the first (in
  path order, then key order) is kept, the others are reported as duplicates;
- summarize: add up the batches' counts (a batch that kept failing included) into
  runs/<run_id>/summary.json and the execution's output.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

STEPS = ("plan", "summarize")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff")
MAX_PATHS = 100
MAX_LISTED = 50


class StepError(ValueError):
    """The run cannot go on (bad Paths, no image at all); retrying will not help."""


@dataclass(frozen=True)
class Settings:
    batch_size: int = 1000
    max_batch_size: int = 10_000
    max_concurrency: int = 4
    max_images: int = 1_000_000

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(batch_size=int(env.get("BATCH_SIZE", cls.batch_size)),
                   max_concurrency=int(env.get("EMBED_MAX_CONCURRENCY", cls.max_concurrency)),
                   max_images=int(env.get("MAX_IMAGES_PER_RUN", cls.max_images)))


def parse_input(data: Any, settings: Settings) -> tuple[list[str], int]:
    """(prefixes, batch size) of a run's input {"Paths": [...], "BatchSize"?}."""
    if not isinstance(data, dict):
        raise StepError('the input must be {"Paths": ["images", ...]}')
    paths = data.get("Paths")
    if (not isinstance(paths, list) or not paths or len(paths) > MAX_PATHS
            or not all(isinstance(p, str) and p.strip("/ ") for p in paths)):
        raise StepError(f"Paths must be a list of 1 to {MAX_PATHS} non-empty S3 prefixes")
    size = data.get("BatchSize", settings.batch_size)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= \
            settings.max_batch_size:
        raise StepError(f"BatchSize must be an integer from 1 to {settings.max_batch_size}")
    prefixes = []
    for path in paths:
        prefix = path.strip().strip("/") + "/"
        if prefix not in prefixes:  # the same path twice is one path
            prefixes.append(prefix)
    return prefixes, size


def manifest_folder(run_id: str, index: int, prefix: str) -> str:
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:8]
    return f"manifests/{run_id}/{index:03d}-{digest}/"


def plan_batches(listing: list[tuple[str, list[str]]], batch_size: int
                 ) -> tuple[list[tuple[int, list[str]]], list[dict[str, str]]]:
    """Batches per path [(path index, keys)], and the duplicates left out."""
    seen: dict[str, str] = {}
    duplicates: list[dict[str, str]] = []
    batches: list[tuple[int, list[str]]] = []
    for index, (_prefix, keys) in enumerate(listing):
        kept = []
        for key in sorted(keys):
            stem = PurePosixPath(key).stem
            if stem in seen:
                duplicates.append({"key": key, "same_image_id_as": seen[stem]})
                continue
            seen[stem] = key
            kept.append(key)
        batches.extend((index, kept[i:i + batch_size]) for i in range(0, len(kept), batch_size))
    return batches, duplicates


class Store:
    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket

    @classmethod
    def from_env(cls) -> Store:
        return cls(aws.client("s3"), os.environ.get("IMAGES_BUCKET", ""))

    def list_images(self, prefix: str, limit: int) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                       Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].lower().endswith(IMAGE_SUFFIXES):
                    keys.append(obj["Key"])
                    if len(keys) > limit:
                        raise StepError(f"more than {limit} images; split the run")
        return keys

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def read_json(self, key: str) -> Any | None:
        try:
            return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return None


def plan(data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    """List, deduplicate and batch the images; one manifest per batch."""
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str):
        raise StepError("plan needs the run_id (the execution name)")
    run_id = data["run_id"]
    prefixes, size = parse_input(data.get("request"), settings)
    listing = [(p, store.list_images(p, settings.max_images)) for p in prefixes]
    batches, duplicates = plan_batches(listing, size)
    if not batches:
        raise StepError(f"no image ({', '.join(IMAGE_SUFFIXES)}) under "
                        f"{', '.join(prefixes)}")
    out = []
    counters: dict[int, int] = {}
    for number, (index, keys) in enumerate(batches):
        local = counters.get(index, 0)
        counters[index] = local + 1
        key = f"{manifest_folder(run_id, index, prefixes[index])}{local:05d}.txt"
        store.put(key, ("\n".join(keys) + "\n").encode(), "text/plain")
        out.append({"batch": number, "manifest": key, "images": len(keys)})
    images = sum(b["images"] for b in out)
    logger.info("Run planned", extra={"run_id": run_id, "images": images,
                                      "batches": len(out), "duplicates": len(duplicates)})
    return {"run_id": run_id, "paths": prefixes, "batch_size": size,
            "max_concurrency": settings.max_concurrency, "images": images,
            "empty_paths": [p for p, keys in listing if not keys],
            "duplicates": len(duplicates), "duplicate_images": duplicates[:MAX_LISTED],
            "batches": out}


def _reason(failure: Any) -> str:
    if not isinstance(failure, dict):
        return "the batch failed"
    cause = failure.get("Cause") if isinstance(failure.get("Cause"), str) else ""
    try:
        parsed = json.loads(cause) if cause else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        cause = str(parsed["errorMessage"])
    return f"{failure.get('Error', 'Error')}: {cause}"[:500]


def summarize(data: Any, store: Store) -> dict[str, Any]:
    """Counts over every batch; the run is SUCCEEDED unless a batch kept failing."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise StepError("summarize needs the plan and the batches' results")
    run_id, plan_out, results = data["run_id"], data["plan"], data["results"]
    counts = {"images_listed": int(plan_out["images"]) + int(plan_out["duplicates"]),
              "duplicates": int(plan_out["duplicates"]), "batches": len(results),
              "batches_failed": 0, "embedded": 0, "skipped": 0}
    reasons: dict[str, int] = {}
    skipped_images: list[dict[str, str]] = []
    failed = []
    for result in results:
        if result.get("status") == "FAILED":
            counts["batches_failed"] += 1
            failed.append({"batch": result.get("batch"), "manifest": result.get("manifest"),
                           "images": result.get("images"), "reason": _reason(result.get("error"))})
            continue
        counts["embedded"] += int(result.get("embedded", 0))
        counts["skipped"] += int(result.get("skipped", 0))
        for kind, n in (result.get("skipped_by_reason") or {}).items():
            reasons[kind] = reasons.get(kind, 0) + int(n)
        if result.get("skipped") and len(skipped_images) < MAX_LISTED:
            # The Map keeps counts only (state size); the names are in the batch's report.
            report = store.read_json(f"runs/{run_id}/reports/{int(result['batch']):05d}.json")
            skipped_images.extend((report or {}).get("skipped_images") or [])
    status = "FAILED" if failed else "SUCCEEDED"
    summary = {"run_id": run_id, "status": status, "paths": plan_out["paths"], **counts,
               "skipped_by_reason": reasons, "skipped_images": skipped_images[:MAX_LISTED],
               "duplicate_images": plan_out.get("duplicate_images", []),
               "failed_batches": failed[:MAX_LISTED],
               "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    store.put(f"runs/{run_id}/summary.json", json.dumps(summary).encode(), "application/json")
    metrics.add_metric(name="ImagesEmbeddedPerRun", unit="Count", value=counts["embedded"])
    logger.info("Run summarized", extra={"run_id": run_id, "status": status, **counts})
    if failed:
        summary["error"] = "BatchesFailed"
        summary["cause"] = (f"{len(failed)} of {len(results)} batches failed after retries; "
                            f"first: {failed[0]['reason']}")[:1000]
    return summary


def run_step(step: Any, data: Any, store: Store, settings: Settings) -> dict[str, Any]:
    if step == "plan":
        return plan(data, store, settings)
    if step == "summarize":
        return summarize(data, store)
    raise StepError(f"unknown step {step!r}; expected one of {', '.join(STEPS)}")


STORE = Store.from_env()
SETTINGS = Settings.from_env()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: {"step": ..., "input": ...} -> the step's result."""
    if not isinstance(event, dict) or "step" not in event:
        raise StepError('the event must be {"step": <step>, "input": <state input>}')
    return run_step(event["step"], event.get("input"), STORE, SETTINGS)
