"""Crash detection from vehicle telemetry: two handlers of one code package.

- `filter_handler` (telemetry stream): caches every sample for a few minutes (the seed's final
  design used a cache instead of Kinesis GetRecords) and sends the samples that pass the low
  thresholds to the candidate stream (instead of an SQS delay queue).
- `confirm_handler` (candidate stream): reads each candidate's neighbours X-1 and X+1 from the
  cache, waiting a few seconds for an X+1 not cached yet, applies the crash rule, stores each
  confirmed crash once and alerts the vehicle's owner through SNS.

Both use Powertools' BatchProcessor: a record that is not a sample is reported alone
(ReportBatchItemFailures), bisected out and sent to the mapping's on-failure queue.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import (
    KinesisStreamRecord,
)
from crash_stores import CrashAlerts, TelemetryCache
from crash_telemetry import (
    BadSample,
    Sample,
    Thresholds,
    assess,
    is_candidate,
    parse_sample,
    sample_from,
)

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()
filter_processor = BatchProcessor(event_type=EventType.KinesisDataStreams,
                                  raise_on_entire_batch_failure=False)
confirm_processor = BatchProcessor(event_type=EventType.KinesisDataStreams,
                                   raise_on_entire_batch_failure=False)

PUT_RECORDS_MAX = 500
PUT_ATTEMPTS = 4
POLL_S = 0.25


class CandidatesNotSent(RuntimeError):
    """Kinesis kept refusing candidates; the telemetry batch is retried (cache writes and
    candidates are idempotent downstream)."""


def thresholds_from_env() -> Thresholds:
    env, d = os.environ, Thresholds()
    return Thresholds(
        candidate_g=float(env.get("CANDIDATE_G", d.candidate_g)),
        crash_g=float(env.get("CRASH_G", d.crash_g)),
        min_speed_drop_kph=float(env.get("MIN_SPEED_DROP_KPH", d.min_speed_drop_kph)),
        max_plausible_g=float(env.get("MAX_PLAUSIBLE_G", d.max_plausible_g)),
    )


# --- filter ---------------------------------------------------------------------------------


def _sample_of(record: KinesisStreamRecord) -> Sample:
    return parse_sample(record.kinesis.data_as_bytes())


def put_candidates(kinesis: Any, stream: str, candidates: list[Sample], cached_at: float,
                   sleep: Callable[[float], None] = time.sleep) -> None:
    """Candidates onto the second stream, keyed by vehicle (in order per vehicle)."""
    records = [{"Data": json.dumps({"sample": s.to_dict(), "cached_at": cached_at}).encode(),
                "PartitionKey": s.vehicle_id} for s in candidates]
    for start in range(0, len(records), PUT_RECORDS_MAX):
        pending = records[start:start + PUT_RECORDS_MAX]
        for attempt in range(PUT_ATTEMPTS):
            if attempt:
                sleep(0.1 * 2 ** attempt)
            out = kinesis.put_records(StreamName=stream, Records=pending)
            if not out.get("FailedRecordCount"):
                pending = []
                break
            pending = [r for r, res in zip(pending, out["Records"], strict=True)
                       if res.get("ErrorCode")]
        if pending:
            raise CandidatesNotSent(f"{len(pending)} candidate(s) refused by Kinesis")


def filter_batch(records: list[dict[str, Any]], cache: TelemetryCache, kinesis: Any,
                 candidate_stream: str, thresholds: Thresholds,
                 clock: Callable[[], float] = time.time) -> tuple[dict[str, Any], int]:
    """Cache a telemetry batch and forward its candidates; (response, candidates sent)."""
    with filter_processor(records=records, handler=_sample_of):
        outcomes = filter_processor.process()
    samples = [result for status, result, _ in outcomes if status == "success"]
    now = clock()
    cache.put(samples, now)  # before the candidates: their neighbours must be readable first
    candidates = [s for s in samples if is_candidate(s, thresholds)]
    if candidates:
        put_candidates(kinesis, candidate_stream, candidates, now)
    return filter_processor.response(), len(candidates)


# --- confirmation -------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    sample: Sample
    cached_at: float


def _candidate_of(record: KinesisStreamRecord) -> Candidate:
    try:
        body = json.loads(record.kinesis.data_as_bytes())
    except (ValueError, UnicodeDecodeError) as err:
        raise BadSample(f"not JSON: {err}") from err
    if not isinstance(body, dict) or not isinstance(body.get("cached_at"), (int, float)):
        raise BadSample("not a candidate message")
    return Candidate(sample_from(body.get("sample")), float(body["cached_at"]))


def neighbours(cache: TelemetryCache, candidates: list[Candidate], wait_s: float,
               clock: Callable[[], float] = time.time,
               sleep: Callable[[float], None] = time.sleep) -> dict[tuple[str, int], Sample]:
    """X-1 and X+1 of every candidate from the cache. An X+1 not cached yet is waited for
    until `wait_s` after its X was cached (it may be in the telemetry stream's next batch);
    after that the candidate is judged without it (the unit may have died in the crash)."""
    keys = [(c.sample.vehicle_id, c.sample.seq + d) for c in candidates for d in (-1, 1)]
    found = cache.get(keys)
    waiting = [c for c in candidates if (c.sample.vehicle_id, c.sample.seq + 1) not in found]
    while waiting:
        deadline = max(c.cached_at for c in waiting) + wait_s
        if clock() >= deadline:
            break
        sleep(POLL_S)
        found.update(cache.get((c.sample.vehicle_id, c.sample.seq + 1) for c in waiting))
        waiting = [c for c in waiting if (c.sample.vehicle_id, c.sample.seq + 1) not in found]
    return found


def confirm_batch(records: list[dict[str, Any]], cache: TelemetryCache, alerts: CrashAlerts,
                  thresholds: Thresholds, wait_s: float,
                  clock: Callable[[], float] = time.time,
                  sleep: Callable[[float], None] = time.sleep
                  ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, int]]:
    """Judge a batch of candidates; (response, crashes alerted, verdict reasons counted)."""
    with confirm_processor(records=records, handler=_candidate_of):
        outcomes = confirm_processor.process()
    candidates = [result for status, result, _ in outcomes if status == "success"]
    found = neighbours(cache, candidates, wait_s, clock, sleep) if candidates else {}
    alerted: list[dict[str, Any]] = []
    reasons: dict[str, int] = {}
    for c in candidates:
        x = c.sample
        prev, nxt = found.get((x.vehicle_id, x.seq - 1)), found.get((x.vehicle_id, x.seq + 1))
        verdict = assess(prev, x, nxt, thresholds)
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
        if verdict.crash:
            crash = alerts.record(prev, x, nxt, verdict)
            if crash is not None:
                alerted.append(crash)
                logger.info("Crash confirmed, owner alerted", extra={"crash": crash})
    return confirm_processor.response(), alerted, reasons


# --- entry points ---------------------------------------------------------------------------

_parts: dict[str, Any] = {}


def _cache() -> TelemetryCache:
    if "cache" not in _parts:
        _parts["cache"] = TelemetryCache(aws.client("dynamodb"), os.environ["CACHE_TABLE"],
                                         int(os.environ.get("CACHE_TTL_SECONDS", "900")))
    return _parts["cache"]


def _alerts() -> CrashAlerts:
    if "alerts" not in _parts:
        _parts["alerts"] = CrashAlerts(
            aws.client("dynamodb"), aws.client("sns"), os.environ["CRASHES_TABLE"],
            os.environ["VEHICLES_TABLE"], os.environ["ALERT_TOPIC_ARN"],
            int(os.environ.get("CRASH_DEDUP_SECONDS", "120")))
    return _parts["alerts"]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def filter_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Telemetry stream entry point (ReportBatchItemFailures)."""
    records = event.get("Records") or []
    response, sent = filter_batch(records, _cache(), aws.client("kinesis"),
                                  os.environ["CANDIDATE_STREAM"], thresholds_from_env())
    metrics.add_metric(name="SamplesReceived", unit=MetricUnit.Count, value=len(records))
    metrics.add_metric(name="CandidatesSent", unit=MetricUnit.Count, value=sent)
    logger.info("Telemetry filtered", extra={
        "samples": len(records), "candidates": sent,
        "poison": len(response["batchItemFailures"])})
    return response


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def confirm_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Candidate stream entry point (ReportBatchItemFailures)."""
    records = event.get("Records") or []
    response, alerted, reasons = confirm_batch(
        records, _cache(), _alerts(), thresholds_from_env(),
        float(os.environ.get("NEIGHBOUR_WAIT_SECONDS", "5")))
    metrics.add_metric(name="CandidatesJudged", unit=MetricUnit.Count, value=sum(reasons.values()))
    metrics.add_metric(name="CrashesAlerted", unit=MetricUnit.Count, value=len(alerted))
    logger.info("Candidates judged", extra={"verdicts": reasons, "alerted": len(alerted)})
    return response
