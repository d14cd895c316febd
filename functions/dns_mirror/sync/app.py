"""Mirror an on-premises DNS zone into a Route 53 private hosted zone (one zone per invocation).

Invoked every 15 minutes by one schedule per zone, whose constant input names the zone:
`{"Domain", "MasterDns", "ZoneId", "IgnoreTTL", "ZoneSerial"}` (+ optional `MasterPort`,
`TsigKey`). The logic lives in the `dns_mirror` package beside this file; the handler parses the
event, fetches the TSIG secret when one is configured, runs the sync and reports.

The result is returned (for `aws lambda invoke` and the demo) and logged as one structured line;
metrics RecordsChanged and SyncFailures go out as EMF with the zone as a dimension. Operational
failures (bad input, master refusing the transfer, unknown zone, a failed batch) are reported in
the result with status "error", "refused" or "partial" rather than raised: a retry of the same
input cannot help, and the next scheduled run converges.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from dns_mirror.config import InvalidEvent, ZoneConfig, parse_event
from dns_mirror.master import Master, Tsig
from dns_mirror.route53 import CallCounter, HostedZone
from dns_mirror.sync import SyncResult, sync_zone

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

# Route 53 allows 5 requests per second per account; standard mode backs off on throttling and
# PriorRequestNotComplete.
ROUTE53_CONFIG = Config(retries={"mode": "standard", "max_attempts": 6})
AXFR_TIMEOUT_SECONDS = float(os.environ.get("AXFR_TIMEOUT_SECONDS", "10"))
AXFR_LIFETIME_SECONDS = float(os.environ.get("AXFR_LIFETIME_SECONDS", "120"))
# Kept free at the end of the invocation for reading and writing Route 53.
WRITE_RESERVE_SECONDS = 30.0

route53 = aws.client("route53", config=ROUTE53_CONFIG)
calls = CallCounter()
calls.attach(route53)


def _tsig(cfg: ZoneConfig) -> Tsig | None:
    if cfg.tsig is None:
        return None
    param = aws.client("ssm").get_parameter(Name=cfg.tsig.secret_parameter, WithDecryption=True)
    return Tsig(cfg.tsig.name, cfg.tsig.algorithm, param["Parameter"]["Value"])


def _lifetime(context: Any) -> float:
    remaining = (context.get_remaining_time_in_millis() / 1000
                 if hasattr(context, "get_remaining_time_in_millis") else AXFR_LIFETIME_SECONDS)
    return max(1.0, min(AXFR_LIFETIME_SECONDS, remaining - WRITE_RESERVE_SECONDS))


def mirror(event: Any, context: Any = None) -> SyncResult:
    """Parse the event and sync its zone; every failure ends up in the result."""
    calls.reset()
    try:
        cfg = parse_event(event)
    except InvalidEvent as exc:
        zone = event.get("Domain") if isinstance(event, dict) else None
        zone_id = event.get("ZoneId") if isinstance(event, dict) else None
        result = SyncResult(zone=str(zone or ""), zone_id=str(zone_id or ""))
        result.fail("InvalidEvent", f"invalid event: {exc}")
        assert result.error is not None
        result.error["problems"] = "; ".join(exc.problems)
        return result
    try:
        tsig = _tsig(cfg)
    except (ClientError, BotoCoreError) as exc:
        result = SyncResult(zone=cfg.domain_text, zone_id=cfg.zone_id)
        param = cfg.tsig.secret_parameter if cfg.tsig else ""
        return result.fail("TsigSecretUnavailable", f"cannot read TSIG secret {param}: {exc}")
    result = sync_zone(cfg, HostedZone(route53, cfg.zone_id),
                       Master(cfg, tsig, timeout=AXFR_TIMEOUT_SECONDS),
                       axfr_lifetime=_lifetime(context))
    result.route53_calls = calls.snapshot()
    return result


@metrics.log_metrics
@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point: the schedule's constant input -> the sync result (JSON)."""
    result = mirror(event, context)
    metrics.add_dimension(name="Zone", value=result.zone or "unknown")
    metrics.add_metric(name="RecordsChanged", unit=MetricUnit.Count, value=result.changed)
    metrics.add_metric(name="SyncFailures", unit=MetricUnit.Count, value=int(result.failed))
    out = result.to_dict()
    if result.failed:
        logger.error(f"dns_mirror {result.status}: {result.message}", extra={"result": out})
    else:
        logger.info(f"dns_mirror {result.status}: {result.message}", extra={"result": out})
    return out
