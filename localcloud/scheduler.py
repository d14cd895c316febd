"""EventBridge schedules: `rate(...)` and six-field AWS `cron(...)` expressions, fired locally."""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cloud import LocalCloud

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


class ScheduleError(ValueError):
    """An expression EventBridge would reject, or one the local clock does not support."""


def _field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int] | None:
    """Values of one cron field; None means any (`*` or `?`)."""
    if text in ("*", "?"):
        return None
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        stepped = "/" in part
        if stepped:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"cron field {text!r}: the step must be a positive number")
            step = int(step_text)
        if part in ("*", ""):
            start, end = lo, hi
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = hi if stepped else start  # `5/15` runs to the end of the range
        if not (lo <= start <= hi and lo <= end <= hi):
            raise ScheduleError(f"cron field {text!r} out of range {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return out


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"unsupported cron value {text!r} (L, W and # are not supported)")
    return int(text)


@dataclass
class Cron:
    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None  # 1 = Sunday, as AWS counts
    years: set[int] | None

    @classmethod
    def parse(cls, body: str) -> Cron:
        parts = body.split()
        if len(parts) != 6:
            raise ScheduleError(f"cron needs 6 fields (min hour day month weekday year): {body!r}")
        if "?" not in (parts[2], parts[4]):
            raise ScheduleError("cron: one of day-of-month or day-of-week must be '?'")
        return cls(_field(parts[0], 0, 59), _field(parts[1], 0, 23), _field(parts[2], 1, 31),
                   _field(parts[3], 1, 12, _MONTHS), _field(parts[4], 1, 7, _DAYS),
                   _field(parts[5], 1970, 2199))

    def matches(self, t: datetime) -> bool:
        weekday = (t.isoweekday() % 7) + 1  # Monday=2 ... Sunday=1
        return all(s is None or v in s for s, v in (
            (self.minutes, t.minute), (self.hours, t.hour), (self.days, t.day),
            (self.months, t.month), (self.weekdays, weekday), (self.years, t.year)))

    def next_after(self, t: datetime) -> datetime:
        """The first minute strictly after `t` that the expression matches."""
        start = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        # Day by day (a leap day comes back within 8 years), then hours and minutes.
        last_year = max(self.years) if self.years else start.year + 8
        hours = sorted(self.hours) if self.hours is not None else range(24)
        minutes = sorted(self.minutes) if self.minutes is not None else range(60)
        while day.year <= last_year:
            if self.years is not None and day.year not in self.years:
                day = day.replace(year=day.year + 1, month=1, day=1)
                continue
            if self.matches(day.replace(hour=hours[0], minute=minutes[0])):
                for hour in hours:
                    for minute in minutes:
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise ScheduleError("cron expression never fires again")


def parse_expression(expr: str) -> tuple[str, Any]:
    """('rate', seconds) or ('cron', Cron) for an EventBridge schedule expression."""
    expr = expr.strip()
    m = _RATE.match(expr)
    if m:
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        if n < 1:
            raise ScheduleError(f"rate must be positive: {expr!r}")
        if (n == 1) != (not m.group(2).endswith("s")):
            raise ScheduleError(f"rate unit must be singular only for 1: {expr!r}")
        return "rate", n * _UNITS[unit]
    if expr.startswith("cron(") and expr.endswith(")"):
        return "cron", Cron.parse(expr[5:-1])
    if expr.startswith("at(") and expr.endswith(")"):
        return "at", datetime.fromisoformat(expr[3:-1]).replace(tzinfo=UTC)
    raise ScheduleError(f"not a schedule expression: {expr!r}")


@dataclass
class Schedule:
    name: str
    expression: str
    targets: list[dict[str, Any]]
    enabled: bool
    app: str
    logical_id: str
    next_fire: datetime | None = None
    fired: int = 0
    kind: str = field(init=False)
    spec: Any = field(init=False)

    def __post_init__(self) -> None:
        self.kind, self.spec = parse_expression(self.expression)

    def compute_next(self, now: datetime) -> None:
        if self.kind == "rate":
            self.next_fire = now + timedelta(seconds=self.spec)
        elif self.kind == "cron":
            try:
                self.next_fire = self.spec.next_after(now)
            except ScheduleError:  # e.g. a year in the past: valid, but never due
                self.next_fire = None
        else:
            self.next_fire = self.spec if self.spec > now and not self.fired else None


def scheduled_event(schedule: Schedule, region: str, when: datetime) -> dict[str, Any]:
    """The event EventBridge sends to a target of a scheduled rule."""
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
        "resources": [f"arn:aws:events:{region}:123456789012:rule/{schedule.name}"],
        "detail": {},
    }


class Scheduler:
    """Fires enabled schedules on time, and any schedule on demand (`fire`)."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        now = datetime.now(UTC)
        for s in self.cloud.schedules.values():
            s.compute_next(now)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def find(self, ident: str) -> Schedule:
        found = [s for s in self.cloud.schedules.values()
                 if ident in (s.name, s.logical_id, f"{s.app}/{s.logical_id}")]
        if len(found) != 1:
            known = ", ".join(f"{s.app}/{s.logical_id}" for s in self.cloud.schedules.values())
            raise KeyError(f"{'ambiguous' if found else 'no'} schedule {ident!r}; known: {known}")
        return found[0]

    def fire(self, ident: str) -> dict[str, Any]:
        """Deliver a schedule's event to its targets now."""
        from .motopatch import deliver_to_target

        s = self.find(ident)
        now = datetime.now(UTC)
        event = scheduled_event(s, self.cloud.region, now)
        for target in s.targets:
            if "Input" in target and not isinstance(target["Input"], str):
                target = {**target, "Input": json.dumps(target["Input"])}
            deliver_to_target(target, event)
        s.fired += 1
        return {"schedule": s.name, "app": s.app, "logicalId": s.logical_id,
                "targets": [t["Arn"] for t in s.targets], "time": event["time"]}

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            now = datetime.now(UTC)
            for s in list(self.cloud.schedules.values()):
                if s.enabled and s.next_fire and s.next_fire <= now:
                    try:
                        self.fire(s.name)
                    except Exception as exc:
                        self.cloud.warn(f"schedule {s.name} failed to fire: {exc!r}")
                    s.compute_next(now)
