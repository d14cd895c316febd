"""AWS Health events: a readable summary, and the optional stop/start of EC2 instances with
scheduled maintenance (a stop and start moves an EBS-backed instance to another host).

Plain functions: the EC2 client, the clock and `sleep` are arguments.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

Mode = Literal["off", "tagged", "all"]
OPT_IN_TAG = "HealthAutoRemediate"  # value "true": the owner allows the stop/start
IN_PROGRESS_TAG = "HealthRemediationInProgress"  # set before our stop, removed after the start
# Scheduled events that a stop/start resolves by moving the instance to healthy hardware.
MAINTENANCE = re.compile(
    r"^AWS_EC2_(PERSISTENT_)?INSTANCE_RETIREMENT_SCHEDULED$|"
    r"^AWS_EC2_INSTANCE_STOP_SCHEDULED$|"
    r"^AWS_EC2_(INSTANCE|SYSTEM)_REBOOT_(FLEXIBLE_)?MAINTENANCE_SCHEDULED$")
SUBJECT_MAX = 100


class RemediationIncomplete(RuntimeError):
    """An instance we stopped is not started yet: the invocation fails so Lambda retries, and
    the retry starts it (it carries IN_PROGRESS_TAG)."""


@dataclass(frozen=True)
class HealthEvent:
    arn: str
    service: str
    type_code: str
    category: str
    region: str
    status: str
    start: str
    end: str
    description: str
    entities: list[str]


def parse_event(event: dict[str, Any]) -> HealthEvent:
    """The fields of an EventBridge `aws.health` event; ValueError when it is not one."""
    if event.get("source") != "aws.health" or not isinstance(event.get("detail"), dict):
        raise ValueError("not an AWS Health event (source aws.health with a detail)")
    d = event["detail"]
    if not d.get("eventTypeCode"):
        raise ValueError("AWS Health event without eventTypeCode")
    descriptions = d.get("eventDescription") or []
    text = next((x.get("latestDescription", "") for x in descriptions
                 if x.get("language", "en_US").startswith("en")), "")
    entities = [e["entityValue"] for e in d.get("affectedEntities") or []
                if isinstance(e, dict) and e.get("entityValue")]
    if not entities:
        entities = [r.rsplit("/", 1)[-1] for r in event.get("resources") or []]
    return HealthEvent(arn=d.get("eventArn", ""), service=d.get("service", "?"),
                       type_code=d["eventTypeCode"], category=d.get("eventTypeCategory", "?"),
                       region=event.get("region", "?"), status=d.get("statusCode", "?"),
                       start=d.get("startTime", ""), end=d.get("endTime", ""),
                       description=text.strip(), entities=entities)


def needs_remediation(ev: HealthEvent) -> bool:
    return (ev.service == "EC2" and ev.status != "closed"
            and bool(MAINTENANCE.match(ev.type_code)))


def readable_type(code: str) -> str:
    """AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED -> "EC2 instance retirement scheduled"."""
    words = code.removeprefix("AWS_").split("_")
    return " ".join([words[0], *(w.lower() for w in words[1:])])


def summary(ev: HealthEvent, outcomes: list[dict[str, str]] | None = None,
            mode: Mode = "off") -> tuple[str, str]:
    """(subject, message) for people: what, where, when, which resources, what was done."""
    subject = f"AWS Health {ev.category}: {readable_type(ev.type_code)} ({ev.region})"
    if len(subject) > SUBJECT_MAX:  # SNS refuses longer subjects
        subject = subject[:SUBJECT_MAX - 3] + "..."
    lines = [
        f"{readable_type(ev.type_code)} in {ev.region}",
        f"Status: {ev.status}   Category: {ev.category}",
        f"Start: {ev.start or 'n/a'}   End: {ev.end or 'n/a'}",
        f"Affected resources ({len(ev.entities)}): {', '.join(ev.entities) or 'none listed'}",
        "",
        ev.description or "(no description)",
        "",
        f"Event: {ev.arn}",
    ]
    if needs_remediation(ev):
        lines.append("")
        if mode == "off":
            lines.append("Remediation: off (RemediationMode parameter). Stop and start the "
                         "instance before the scheduled time to move it to another host.")
        else:
            lines.append(f"Remediation ({mode}):")
            for o in outcomes or []:
                lines.append(f"  {o['instanceId']}: {o['action']}"
                             + (f" - {o['reason']}" if o.get("reason") else ""))
    return subject, "\n".join(lines)


def _describe(ec2: Any, instance_id: str) -> dict[str, Any] | None:
    try:
        res = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as err:
        if err.response["Error"]["Code"].startswith("InvalidInstanceID"):
            return None
        raise
    return res[0]["Instances"][0] if res and res[0]["Instances"] else None


def _tags(inst: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


def _wait_stopped(ec2: Any, instance_id: str, deadline: float,
                  clock: Callable[[], float], sleep: Callable[[float], None],
                  every: float) -> bool:
    while True:
        inst = _describe(ec2, instance_id)
        if inst is not None and inst["State"]["Name"] == "stopped":
            return True
        if clock() + every > deadline:
            return False
        sleep(every)


def remediate(ec2: Any, instance_id: str, event_id: str, mode: Mode, deadline: float,
              clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep,
              every: float = 5.0) -> dict[str, str]:
    """Stop and start one instance if allowed; returns {instanceId, action, reason?}.

    Only instances this function stopped are ever started (IN_PROGRESS_TAG), so an instance
    its owner stopped stays stopped.
    """
    out = {"instanceId": instance_id}
    inst = _describe(ec2, instance_id)
    if inst is None:
        return {**out, "action": "skipped", "reason": "instance not found"}
    tags, state = _tags(inst), inst["State"]["Name"]
    if mode == "tagged" and tags.get(OPT_IN_TAG, "").lower() != "true":
        return {**out, "action": "skipped", "reason": f"not opted in ({OPT_IN_TAG}=true)"}
    if inst.get("RootDeviceType") == "instance-store":
        return {**out, "action": "skipped",
                "reason": "instance-store root: it cannot be stopped, replace it instead"}
    ours = IN_PROGRESS_TAG in tags
    if state in ("pending", "running") and not ours:
        ec2.create_tags(Resources=[instance_id], Tags=[{"Key": IN_PROGRESS_TAG,
                                                        "Value": event_id[-250:]}])
        ec2.stop_instances(InstanceIds=[instance_id])
        ours = True
    elif not ours:
        return {**out, "action": "skipped", "reason": f"instance is {state}, not running"}
    if not _wait_stopped(ec2, instance_id, deadline, clock, sleep, every):
        raise RemediationIncomplete(f"{instance_id} is still stopping; a retry will start it")
    ec2.start_instances(InstanceIds=[instance_id])
    ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": IN_PROGRESS_TAG}])
    return {**out, "action": "stopped and started"}
