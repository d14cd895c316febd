"""EventBridge schedule expressions: rate(...) and six-field AWS cron(...)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from localcloud.scheduler import (
    Cron,
    Schedule,
    ScheduleError,
    Scheduler,
    parse_expression,
    scheduled_event,
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("expr", "seconds"), [
    ("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600),
    ("rate(12 hours)", 43200), ("rate(1 day)", 86400), ("rate(7 days)", 604800),
    ("  rate(2 minutes) ", 120),
])
def test_rate_expressions(expr: str, seconds: int) -> None:
    assert parse_expression(expr) == ("rate", seconds)


@pytest.mark.parametrize("expr", [
    "rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(5 seconds)", "rate(-1 days)",
    "rate(1.5 hours)", "rate(5minutes)", "every 5 minutes", "",
])
def test_invalid_rate_expressions(expr: str) -> None:
    with pytest.raises(ScheduleError):
        parse_expression(expr)


def test_cron_with_a_list_of_hours() -> None:
    kind, cron = parse_expression("cron(0 3,14 * * ? *)")
    assert kind == "cron"
    assert (cron.minutes, cron.hours, cron.days, cron.weekdays) == ({0}, {3, 14}, None, None)
    assert cron.next_after(at(2025, 3, 1, 2, 59)) == at(2025, 3, 1, 3, 0)
    assert cron.next_after(at(2025, 3, 1, 3, 0)) == at(2025, 3, 1, 14, 0)  # strictly after
    assert cron.next_after(at(2025, 3, 1, 14, 0, 30)) == at(2025, 3, 2, 3, 0)


def test_cron_weekday_names_and_ranges() -> None:
    cron = Cron.parse("30 9 ? * MON-FRI *")
    assert cron.weekdays == {2, 3, 4, 5, 6}  # AWS counts SUN=1 ... SAT=7
    saturday = at(2025, 3, 1, 10, 0)
    assert cron.next_after(saturday) == at(2025, 3, 3, 9, 30)  # Monday
    assert cron.matches(at(2025, 3, 7, 9, 30))  # Friday
    assert not cron.matches(at(2025, 3, 2, 9, 30))  # Sunday
    assert Cron.parse("0 0 ? * sun,SAT *").weekdays == {1, 7}


def test_cron_steps_months_years_and_days_of_month() -> None:
    assert Cron.parse("0/15 * * * ? *").minutes == {0, 15, 30, 45}
    assert Cron.parse("*/20 * * * ? *").minutes == {0, 20, 40}
    assert Cron.parse("5,10/20 * * * ? *").minutes == {5, 10, 30, 50}  # step on one part only
    cron = Cron.parse("0 12 1 JAN-MAR ? 2030")
    assert cron.months == {1, 2, 3} and cron.years == {2030}
    assert cron.next_after(at(2025, 6, 1)) == at(2030, 1, 1, 12, 0)
    leap = Cron.parse("0 0 29 2 ? *")
    assert leap.next_after(at(2025, 3, 1)) == at(2028, 2, 29, 0, 0)


@pytest.mark.parametrize("body", [
    "0 12 * * *",  # five fields
    "0 12 * * * *",  # neither day field is '?'
    "60 12 * * ? *",  # minute out of range
    "0 24 * * ? *",
    "0 0 32 * ? *",
    "0 0 ? 13 * *",
    "0 0 L * ? *",  # L, W and # are not supported locally
    "0 0 ? * 2#1 *",
    "0/0 * * * ? *",
    "0/x * * * ? *",
    "0 0 ? * FUNDAY *",
])
def test_invalid_cron_expressions(body: str) -> None:
    with pytest.raises(ScheduleError):
        parse_expression(f"cron({body})")


def test_a_cron_that_never_fires_again_has_no_next_time() -> None:
    cron = Cron.parse("0 0 1 1 ? 2020")
    with pytest.raises(ScheduleError):
        cron.next_after(at(2025, 1, 1))
    s = Schedule(name="n", expression="cron(0 0 1 1 ? 2020)", targets=[], enabled=True, app="a",
                 logical_id="N")
    s.compute_next(at(2025, 1, 1))
    assert s.next_fire is None


def test_schedule_next_fire_for_rate_cron_and_at() -> None:
    now = at(2025, 3, 1, 10, 0, 30)
    rate = Schedule(name="r", expression="rate(5 minutes)", targets=[], enabled=True, app="a",
                    logical_id="R")
    rate.compute_next(now)
    assert rate.next_fire == at(2025, 3, 1, 10, 5, 30)
    cron = Schedule(name="c", expression="cron(0 * * * ? *)", targets=[], enabled=True, app="a",
                    logical_id="C")
    cron.compute_next(now)
    assert cron.next_fire == at(2025, 3, 1, 11, 0)
    once = Schedule(name="o", expression="at(2025-03-02T08:00:00)", targets=[], enabled=True,
                    app="a", logical_id="O")
    once.compute_next(now)
    assert once.next_fire == at(2025, 3, 2, 8, 0)
    once.compute_next(at(2025, 3, 3))
    assert once.next_fire is None
    with pytest.raises(ScheduleError):
        Schedule(name="x", expression="rate(0 days)", targets=[], enabled=True, app="a",
                 logical_id="X")


def test_scheduled_event_shape() -> None:
    s = Schedule(name="nightly", expression="rate(1 day)", targets=[], enabled=True, app="a",
                 logical_id="N")
    event = scheduled_event(s, "eu-west-1", at(2025, 3, 1, 3, 0, 7))
    assert event["detail-type"] == "Scheduled Event"
    assert (event["source"], event["region"], event["detail"]) == ("aws.events", "eu-west-1", {})
    assert event["time"] == "2025-03-01T03:00:07Z"
    assert event["resources"] == ["arn:aws:events:eu-west-1:123456789012:rule/nightly"]
    assert event["id"] and event["version"] == "0"


def test_scheduler_find_by_name_logical_id_or_app_path() -> None:
    def sched(name: str, app: str, lid: str) -> Schedule:
        return Schedule(name=name, expression="rate(1 hour)", targets=[], enabled=True, app=app,
                        logical_id=lid)

    schedules: dict[str, Any] = {
        "one-abc": sched("one-abc", "app1", "Tick"), "two-def": sched("two-def", "app2", "Tick"),
        "three": sched("three", "app2", "Tock")}
    scheduler = Scheduler(SimpleNamespace(schedules=schedules, region="us-east-1"))  # type: ignore[arg-type]
    assert scheduler.find("one-abc").app == "app1"
    assert scheduler.find("app2/Tick").name == "two-def"
    assert scheduler.find("Tock").name == "three"
    with pytest.raises(KeyError, match="ambiguous"):
        scheduler.find("Tick")
    with pytest.raises(KeyError, match="no schedule"):
        scheduler.find("Nope")
