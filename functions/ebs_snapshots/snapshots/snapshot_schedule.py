"""EBS snapshots from volume tags, as plain functions (EC2 clients and "now" are arguments).

Tag `scheduler:ebs-snapshot:HHMM` = `HHMM;retention-days;tz;days` on a volume (several tags
for several times a day, as in the seed): `tz` is an IANA name (Europe/Paris) or `utc`; `days`
is `all`, `weekdays` or a comma list of mon..sun, judged on the local date in `tz`.

A run at `now` creates a snapshot for every slot (local date + HHMM in tz) that lies in
[now - max_delta, now] (max_delta = the rate + 2 minutes, so no slot falls between two runs).
Each snapshot is tagged with its slot, so the overlap of two windows never takes it twice, and
with its expiry and the stack that made it; the expiry pass deletes only snapshots carrying
this stack's marker whose expiry has passed, never any other snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botocore.exceptions import ClientError

PREFIX = "scheduler:ebs-snapshot:"
MANAGED_BY = PREFIX + "managed-by"
EXPIRES = PREFIX + "expires"
SLOT = PREFIX + "slot"
COPIED_FROM = PREFIX + "copied-from"
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RETENTION_DAYS = 3650
GRACE = timedelta(minutes=2)


class TagError(ValueError):
    """A schedule tag that cannot be parsed; the message says what is wrong."""


@dataclass(frozen=True)
class SnapshotSchedule:
    key: str
    at: time
    retention_days: int
    tz: tzinfo
    days: frozenset[int]


@dataclass
class RunResult:
    created: list[dict[str, str]] = field(default_factory=list)
    already_taken: list[dict[str, str]] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    deleted: list[dict[str, str]] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hhmm(text: str) -> time:
    if len(text) != 4 or not text.isdigit() or int(text[:2]) > 23 or int(text[2:]) > 59:
        raise TagError(f"time {text!r} is not HHMM (24-hour, e.g. 0900)")
    return time(int(text[:2]), int(text[2:]))


def _tz(text: str) -> tzinfo:
    if text.lower() == "utc":
        return UTC
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise TagError(f"time zone {text!r} is not an IANA name (e.g. Europe/Paris) or utc"
                       ) from None


def _days(text: str) -> frozenset[int]:
    text = text.strip().lower()
    if text == "all":
        return frozenset(range(7))
    if text == "weekdays":
        return frozenset(range(5))
    names = [d.strip() for d in text.split(",") if d.strip()]
    unknown = [d for d in names if d not in DAY_NAMES]
    if not names or unknown:
        raise TagError(f"days {text!r}: use all, weekdays or a list of mon..sun")
    return frozenset(DAY_NAMES.index(d) for d in names)


def parse_tag(key: str, value: str) -> SnapshotSchedule:
    """Parse one `scheduler:ebs-snapshot:HHMM` tag; raises TagError naming the problem."""
    suffix = key.removeprefix(PREFIX)
    tokens = [t.strip() for t in (value or "").strip().rstrip(";").split(";")]
    if len(tokens) != 4:
        raise TagError(f"{len(tokens)} field(s); expected HHMM;retention-days;tz;days")
    at = _hhmm(tokens[0])
    if suffix != tokens[0]:
        raise TagError(f"the key's time {suffix!r} differs from the value's {tokens[0]!r}")
    if not tokens[1].isdigit() or not 1 <= int(tokens[1]) <= MAX_RETENTION_DAYS:
        raise TagError(f"retention {tokens[1]!r} is not a number of days "
                       f"(1-{MAX_RETENTION_DAYS})")
    return SnapshotSchedule(key, at, int(tokens[1]), _tz(tokens[2]), _days(tokens[3]))


def schedule_tags(tags: list[dict[str, str]]) -> list[tuple[str, str]]:
    """(key, value) of the schedule tags among a resource's tags (not our own markers)."""
    markers = {MANAGED_BY, EXPIRES, SLOT, COPIED_FROM}
    return [(t["Key"], t["Value"]) for t in tags
            if t["Key"].startswith(PREFIX) and t["Key"] not in markers]


def due_slots(schedule: SnapshotSchedule, now: datetime, max_delta: timedelta) -> list[datetime]:
    """The schedule's moments (UTC) in [now - max_delta, now], oldest first."""
    start = now - max_delta
    out = []
    day: date = start.astimezone(schedule.tz).date()
    last = now.astimezone(schedule.tz).date()
    while day <= last:  # every local date the window touches (midnight, DST, any zone)
        if day.weekday() in schedule.days:
            # fold=0: on a repeated hour (clocks back) the first occurrence; a time skipped
            # by clocks going forward maps to the same UTC offset as before the change.
            moment = datetime.combine(day, schedule.at, tzinfo=schedule.tz).astimezone(UTC)
            if start <= moment <= now:
                out.append(moment)
        day += timedelta(days=1)
    return out


def tagged_volumes(ec2: Any) -> Iterator[dict[str, Any]]:
    pages = ec2.get_paginator("describe_volumes").paginate(
        Filters=[{"Name": "tag-key", "Values": [PREFIX + "*"]}])
    for page in pages:
        yield from page.get("Volumes", [])


def _slot_value(schedule: SnapshotSchedule, slot: datetime) -> str:
    return f"{schedule.key.removeprefix(PREFIX)}@{iso(slot)}"


def _taken(ec2: Any, volume_id: str, slot_value: str, managed_by: str) -> str | None:
    found = ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "volume-id", "Values": [volume_id]},
        {"Name": f"tag:{SLOT}", "Values": [slot_value]},
        {"Name": f"tag:{MANAGED_BY}", "Values": [managed_by]}])["Snapshots"]
    return found[0]["SnapshotId"] if found else None


def _carried_tags(volume: dict[str, Any]) -> list[dict[str, str]]:
    # The volume's own tags travel with its snapshots (and their copies); schedule tags and
    # AWS-reserved keys do not.
    return [t for t in volume.get("Tags", [])
            if not t["Key"].startswith(PREFIX) and not t["Key"].startswith("aws:")]


def create_due(ec2: Any, now: datetime, max_delta: timedelta, managed_by: str,
               result: RunResult) -> None:
    for volume in tagged_volumes(ec2):
        vid = volume["VolumeId"]
        for key, value in schedule_tags(volume.get("Tags", [])):
            try:
                schedule = parse_tag(key, value)
            except TagError as err:
                result.rejected.append({"volumeId": vid, "tag": key, "value": value,
                                        "error": str(err)})
                continue
            for slot in due_slots(schedule, now, max_delta):
                slot_value = _slot_value(schedule, slot)
                existing = _taken(ec2, vid, slot_value, managed_by)
                if existing:
                    result.already_taken.append({"volumeId": vid, "slot": slot_value,
                                                 "snapshotId": existing})
                    continue
                expires = iso(slot + timedelta(days=schedule.retention_days))
                tags = [*_carried_tags(volume), {"Key": MANAGED_BY, "Value": managed_by},
                        {"Key": EXPIRES, "Value": expires}, {"Key": SLOT, "Value": slot_value}]
                try:
                    snap = ec2.create_snapshot(
                        VolumeId=vid, Description=f"{managed_by}: {vid} {slot_value}",
                        TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}])
                except ClientError as err:
                    result.failed.append({"volumeId": vid, "slot": slot_value,
                                          "error": err.response["Error"]["Code"]})
                    continue
                result.created.append({"volumeId": vid, "snapshotId": snap["SnapshotId"],
                                       "slot": slot_value, "expires": expires})


def delete_expired(ec2: Any, now: datetime, managed_by: str, region: str,
                   result: RunResult) -> None:
    """Delete this stack's snapshots (and copies) in `region` whose expiry has passed."""
    pages = ec2.get_paginator("describe_snapshots").paginate(
        OwnerIds=["self"], Filters=[{"Name": f"tag:{MANAGED_BY}", "Values": [managed_by]}])
    for page in pages:
        for snap in page.get("Snapshots", []):
            tags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
            if tags.get(MANAGED_BY) != managed_by:  # the filter's answer, checked again
                continue
            try:
                expires = datetime.fromisoformat(tags.get(EXPIRES, "").replace("Z", "+00:00"))
            except ValueError:
                result.failed.append({"snapshotId": snap["SnapshotId"], "region": region,
                                      "error": f"unreadable {EXPIRES} tag; left alone"})
                continue
            if expires > now:
                continue
            try:
                ec2.delete_snapshot(SnapshotId=snap["SnapshotId"])
            except ClientError as err:  # e.g. InvalidSnapshot.InUse by an AMI
                result.failed.append({"snapshotId": snap["SnapshotId"], "region": region,
                                      "error": err.response["Error"]["Code"]})
                continue
            result.deleted.append({"snapshotId": snap["SnapshotId"], "region": region,
                                   "expired": tags[EXPIRES]})


def run(ec2: Any, now: datetime, rate_minutes: int, managed_by: str, region: str,
        other_regions: dict[str, Any] | None = None) -> dict[str, Any]:
    """One scheduled run: create due snapshots, then delete expired ones (here and in the
    copy regions, whose EC2 clients are `other_regions`)."""
    max_delta = timedelta(minutes=rate_minutes) + GRACE
    result = RunResult()
    create_due(ec2, now, max_delta, managed_by, result)
    delete_expired(ec2, now, managed_by, region, result)
    for other, client in (other_regions or {}).items():
        delete_expired(client, now, managed_by, other, result)
    return {"now": iso(now), "window": {"from": iso(now - max_delta), "to": iso(now)},
            "created": result.created, "alreadyTaken": result.already_taken,
            "rejected": result.rejected, "deleted": result.deleted, "failed": result.failed}
