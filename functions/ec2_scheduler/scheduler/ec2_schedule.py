"""The enterprise scheduler's rules, as plain functions (no AWS needed to test them).

Tag `EntScheduler` = `days-on;HHMM-on;days-off;HHMM-off;[disable;]`, times in UTC, days a comma
list of mon..sun. An action is due when one of its (day, time) moments falls in the window
[now - max_delta, now]; max_delta is the schedule's rate plus a grace period, so consecutive
windows overlap and no moment falls between two runs.

Differences from the seed's code (on purpose):
- the window is computed on real datetimes, so an action at 23:55 on Monday is found by a run at
  00:03 on Tuesday (the seed compared times of day with today's weekday and missed it);
- a malformed tag is reported for its instance and the other instances are still processed
  (the seed called sys.exit);
- an instance is only started when stopped and only stopped when running or pending, so the
  overlap of two windows, or a manual change in between, never causes a second action;
- start/stop calls are batched, and a refused batch is retried one instance at a time so one
  instance in the wrong state does not block the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
DEFAULT_TAG_KEY = "EntScheduler"
GRACE = timedelta(minutes=2)
BATCH_SIZE = 50
PAGE_SIZE = 500
# Instances in these states can be acted on; shutting-down/terminated ones are never listed.
LISTED_STATES = ("pending", "running", "stopping", "stopped")

Decision = Literal["start", "stop", "both", "none", "disabled"]


class TagError(ValueError):
    """The schedule tag cannot be parsed; the message says what is wrong."""


@dataclass(frozen=True)
class Schedule:
    on_days: frozenset[int]
    on_time: time | None
    off_days: frozenset[int]
    off_time: time | None
    disabled: bool = False


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str
    tag: str


@dataclass
class Plan:
    to_start: list[str] = field(default_factory=list)
    to_stop: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)


def max_delta_for(rate_minutes: int, grace: timedelta = GRACE) -> timedelta:
    """The look-back window for a schedule running every `rate_minutes` (the seed: rate + 2)."""
    if rate_minutes < 1:
        raise ValueError("the rate must be at least one minute")
    return timedelta(minutes=rate_minutes) + grace


def _days(text: str, which: str) -> frozenset[int]:
    names = [d.strip().lower() for d in text.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAY_NAMES]
    if unknown:
        raise TagError(f"{which} days: unknown day(s) {', '.join(unknown)} (use mon..sun)")
    return frozenset(DAY_NAMES.index(d) for d in names)


def _hhmm(text: str, which: str) -> time:
    text = text.strip()
    if len(text) != 4 or not text.isdigit():
        raise TagError(f"{which} time {text!r} is not HHMM (24-hour, e.g. 0830)")
    hours, minutes = int(text[:2]), int(text[2:])
    if hours > 23 or minutes > 59:
        raise TagError(f"{which} time {text!r} is not a valid time of day")
    return time(hours, minutes, tzinfo=UTC)


def _side(days_text: str, time_text: str, which: str) -> tuple[frozenset[int], time | None]:
    # Both fields empty: this schedule has no such action (e.g. only ever stop at night).
    if not days_text.strip() and not time_text.strip():
        return frozenset(), None
    if not days_text.strip():
        raise TagError(f"{which} time given without {which} days")
    return _days(days_text, which), _hhmm(time_text, which)


def parse_schedule(value: str) -> Schedule:
    """Parse a tag value; raises TagError naming the problem."""
    if not isinstance(value, str) or not value.strip():
        raise TagError("empty schedule")
    tokens = [t.strip() for t in value.strip().split(";")]
    if tokens and tokens[-1] == "":  # the documented form ends with ';'
        tokens.pop()
    if len(tokens) < 4:
        raise TagError(f"{len(tokens)} field(s); expected days-on;HHMM-on;days-off;HHMM-off;")
    if len(tokens) > 5:
        raise TagError(f"{len(tokens)} fields; at most 5 (the 5th may only be 'disable')")
    disabled = False
    if len(tokens) == 5:
        if tokens[4].lower() != "disable":
            raise TagError(f"5th field {tokens[4]!r}: only 'disable' is allowed there")
        disabled = True
    on_days, on_time = _side(tokens[0], tokens[1], "on")
    off_days, off_time = _side(tokens[2], tokens[3], "off")
    if on_time is None and off_time is None:
        raise TagError("neither an on nor an off action")
    return Schedule(on_days, on_time, off_days, off_time, disabled)


def is_due(days: frozenset[int], at: time | None, now: datetime, max_delta: timedelta) -> bool:
    """True when a moment (day in `days`, time `at`, UTC) lies in [now - max_delta, now]."""
    if at is None or not days:
        return False
    now = now.astimezone(UTC)
    start = now - max_delta
    day: date = start.date()
    # Every calendar day the window touches, so a window crossing midnight sees both days.
    while day <= now.date():
        if day.weekday() in days:
            moment = datetime.combine(day, at)
            if start <= moment <= now:
                return True
        day += timedelta(days=1)
    return False


def decide(schedule: Schedule, now: datetime, max_delta: timedelta) -> Decision:
    if schedule.disabled:
        return "disabled"
    on = is_due(schedule.on_days, schedule.on_time, now, max_delta)
    off = is_due(schedule.off_days, schedule.off_time, now, max_delta)
    if on and off:
        return "both"
    return "start" if on else "stop" if off else "none"


def plan(instances: Iterable[Instance], now: datetime, max_delta: timedelta) -> Plan:
    """What to do with each instance; a bad tag rejects only its own instance."""
    out = Plan()
    for inst in instances:
        try:
            decision = decide(parse_schedule(inst.tag), now, max_delta)
        except TagError as err:
            out.rejected.append({"instanceId": inst.instance_id, "tag": inst.tag,
                                 "error": str(err)})
            continue
        if decision == "start":
            if inst.state == "stopped":
                out.to_start.append(inst.instance_id)
            else:
                out.skipped.append({"instanceId": inst.instance_id,
                                    "reason": f"start due, instance is {inst.state}"})
        elif decision == "stop":
            if inst.state in ("running", "pending"):
                out.to_stop.append(inst.instance_id)
            else:
                out.skipped.append({"instanceId": inst.instance_id,
                                    "reason": f"stop due, instance is {inst.state}"})
        elif decision == "both":
            out.skipped.append({"instanceId": inst.instance_id,
                                "reason": "both on and off due in this window"})
        elif decision == "disabled":
            out.skipped.append({"instanceId": inst.instance_id, "reason": "schedule disabled"})
    return out


def scheduled_instances(ec2: Any, tag_key: str = DEFAULT_TAG_KEY,
                        page_size: int = PAGE_SIZE) -> Iterator[Instance]:
    """Every instance carrying the tag, all pages."""
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "tag-key", "Values": [tag_key]},
                 {"Name": "instance-state-name", "Values": list(LISTED_STATES)}],
        PaginationConfig={"PageSize": page_size})
    for page in pages:
        for reservation in page.get("Reservations", []):
            for inst in reservation.get("Instances", []):
                tag = next((t["Value"] for t in inst.get("Tags", []) if t["Key"] == tag_key), "")
                yield Instance(inst["InstanceId"], inst["State"]["Name"], tag)


def _act(call: Any, ids: list[str], batch_size: int) -> tuple[list[str], list[dict[str, str]]]:
    done: list[str] = []
    failed: list[dict[str, str]] = []
    for start in range(0, len(ids), batch_size):
        batch = ids[start:start + batch_size]
        try:
            call(InstanceIds=batch)
            done.extend(batch)
            continue
        except ClientError:
            pass  # EC2 refuses the whole call for one bad instance: isolate it below
        for instance_id in batch:
            try:
                call(InstanceIds=[instance_id])
                done.append(instance_id)
            except ClientError as err:
                failed.append({"instanceId": instance_id,
                               "error": err.response.get("Error", {}).get("Code", str(err))})
    return done, failed


def run(ec2: Any, now: datetime, rate_minutes: int, tag_key: str = DEFAULT_TAG_KEY,
        batch_size: int = BATCH_SIZE, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """One scheduler run at `now`: the JSON result of actions taken and tags rejected."""
    max_delta = max_delta_for(rate_minutes)
    instances = list(scheduled_instances(ec2, tag_key, page_size))
    todo = plan(instances, now, max_delta)
    started, start_failed = _act(ec2.start_instances, todo.to_start, batch_size)
    stopped, stop_failed = _act(ec2.stop_instances, todo.to_stop, batch_size)
    return {
        "now": now.astimezone(UTC).isoformat(),
        "window": {"from": (now - max_delta).astimezone(UTC).isoformat(),
                   "to": now.astimezone(UTC).isoformat()},
        "examined": len(instances),
        "started": started,
        "stopped": stopped,
        "skipped": todo.skipped,
        "rejected": todo.rejected,
        "failed": [{**f, "action": "start"} for f in start_failed]
        + [{**f, "action": "stop"} for f in stop_failed],
    }


def event_time(event: Any) -> datetime | None:
    """The scheduled event's `time` (when EventBridge meant the run to happen), if readable."""
    value = event.get("time") if isinstance(event, dict) else None
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
