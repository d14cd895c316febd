"""The tag grammar and the window rule, with a frozen clock (now is an argument)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from ec2_schedule import (
    Instance,
    Schedule,
    TagError,
    decide,
    event_time,
    is_due,
    max_delta_for,
    parse_schedule,
    plan,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
DELTA = max_delta_for(10)
# 2024-05-06 is a Monday.
MONDAY_0835 = datetime(2024, 5, 6, 8, 35, tzinfo=UTC)


def test_max_delta_is_the_rate_plus_two_minutes() -> None:
    assert max_delta_for(10) == timedelta(minutes=12)
    assert max_delta_for(20) == timedelta(minutes=22)
    with pytest.raises(ValueError):
        max_delta_for(0)


@pytest.mark.parametrize("value, expected", [
    ("mon,tue,wed,thu,fri,sat,sun;0830;mon,tue,wed,thu,fri,sat,sun;1700;",
     Schedule(frozenset(range(7)), time(8, 30, tzinfo=UTC), frozenset(range(7)),
              time(17, 0, tzinfo=UTC))),
    ("mon;0700;fri;1800;",
     Schedule(frozenset({MON}), time(7, 0, tzinfo=UTC), frozenset({FRI}),
              time(18, 0, tzinfo=UTC))),
    ("wed,thu,fri;2100;thu,fri,sat;0500;",
     Schedule(frozenset({WED, THU, FRI}), time(21, 0, tzinfo=UTC),
              frozenset({THU, FRI, SAT}), time(5, 0, tzinfo=UTC))),
    ("wed,thu,fri;2100;thu,fri,sat;0500;disable;",
     Schedule(frozenset({WED, THU, FRI}), time(21, 0, tzinfo=UTC),
              frozenset({THU, FRI, SAT}), time(5, 0, tzinfo=UTC), disabled=True)),
    # no trailing ';', upper case, spaces, order ignored
    (" Fri , MON ;0700; fri;1800 ",
     Schedule(frozenset({MON, FRI}), time(7, 0, tzinfo=UTC), frozenset({FRI}),
              time(18, 0, tzinfo=UTC))),
    ("mon;0700;fri;1800;DISABLE",
     Schedule(frozenset({MON}), time(7, 0, tzinfo=UTC), frozenset({FRI}),
              time(18, 0, tzinfo=UTC), disabled=True)),
    # only an off action (both on fields empty)
    (";;mon,tue,wed,thu,fri;1900;",
     Schedule(frozenset(), None, frozenset({MON, TUE, WED, THU, FRI}),
              time(19, 0, tzinfo=UTC))),
])
def test_every_documented_tag_form_parses(value: str, expected: Schedule) -> None:
    assert parse_schedule(value) == expected


@pytest.mark.parametrize("value, message", [
    ("", "empty"),
    ("mon;0700;fri;", "3 field"),
    ("mon;0700;fri;1800;disable;extra;", "at most 5"),
    ("mon;0700;fri;1800;sometimes;", "only 'disable'"),
    ("mon;7:00;fri;1800;", "not HHMM"),
    ("mon;2400;fri;1800;", "not a valid time"),
    ("mon;0760;fri;1800;", "not a valid time"),
    ("monday;0700;fri;1800;", "unknown day(s) monday"),
    ("mon;0700;;1800;", "off time given without off days"),
    (";;;;", "neither an on nor an off"),
    ("mon;;fri;1800;", "not HHMM"),
])
def test_malformed_tags_are_rejected_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(TagError) as err:
        parse_schedule(value)
    assert message in str(err.value)


def test_the_window_includes_both_ends_and_nothing_outside() -> None:
    mon = frozenset({MON})
    assert is_due(mon, time(8, 35, tzinfo=UTC), MONDAY_0835, DELTA)  # now
    assert is_due(mon, time(8, 23, tzinfo=UTC), MONDAY_0835, DELTA)  # now - 12 min
    assert not is_due(mon, time(8, 22, tzinfo=UTC), MONDAY_0835, DELTA)
    assert not is_due(mon, time(8, 36, tzinfo=UTC), MONDAY_0835, DELTA)  # not yet
    assert not is_due(frozenset({TUE}), time(8, 30, tzinfo=UTC), MONDAY_0835, DELTA)


def test_a_window_crossing_midnight_sees_the_previous_day() -> None:
    tuesday_0003 = datetime(2024, 5, 7, 0, 3, tzinfo=UTC)
    # Monday 23:55 lies in [Mon 23:51, Tue 00:03]: the seed's code looked only at Tuesday's
    # weekday and at 23:55 > 00:03 as times of day, and missed it.
    assert is_due(frozenset({MON}), time(23, 55, tzinfo=UTC), tuesday_0003, DELTA)
    assert not is_due(frozenset({TUE}), time(23, 55, tzinfo=UTC), tuesday_0003, DELTA)
    assert is_due(frozenset({TUE}), time(0, 0, tzinfo=UTC), tuesday_0003, DELTA)
    assert not is_due(frozenset({MON}), time(0, 0, tzinfo=UTC), tuesday_0003, DELTA)
    # across the week's end: Sunday 23:58 seen from Monday 00:05
    assert is_due(frozenset({SUN}), time(23, 58, tzinfo=UTC),
                  datetime(2024, 5, 13, 0, 5, tzinfo=UTC), DELTA)


def test_a_time_zone_aware_now_is_compared_in_utc() -> None:
    from zoneinfo import ZoneInfo

    local = MONDAY_0835.astimezone(ZoneInfo("America/Los_Angeles"))  # Monday 01:35 there
    assert is_due(frozenset({MON}), time(8, 30, tzinfo=UTC), local, DELTA)


def test_decisions() -> None:
    assert decide(parse_schedule("mon;0830;mon;1700;"), MONDAY_0835, DELTA) == "start"
    assert decide(parse_schedule("mon;0700;mon;0830;"), MONDAY_0835, DELTA) == "stop"
    assert decide(parse_schedule("mon;0830;mon;0825;"), MONDAY_0835, DELTA) == "both"
    assert decide(parse_schedule("mon;0830;mon;1700;disable;"), MONDAY_0835, DELTA) == \
        "disabled"
    assert decide(parse_schedule("tue;0830;tue;1700;"), MONDAY_0835, DELTA) == "none"


def test_plan_reports_bad_tags_and_keeps_going() -> None:
    instances = [
        Instance("i-start", "stopped", "mon;0830;mon;1700;"),
        Instance("i-bad", "stopped", "mon;8:30;mon;1700;"),
        Instance("i-stop", "running", "sun;0800;mon;0830;"),
        Instance("i-both", "running", "mon;0830;mon;0826;"),
        Instance("i-off", "running", "mon;0830;mon;1700;disable;"),
        Instance("i-already", "running", "mon;0830;mon;1700;"),
        Instance("i-idle", "running", "mon;1000;mon;1700;"),
        Instance("i-empty", "running", ""),
    ]
    result = plan(instances, MONDAY_0835, DELTA)
    assert result.to_start == ["i-start"]
    assert result.to_stop == ["i-stop"]
    assert [r["instanceId"] for r in result.rejected] == ["i-bad", "i-empty"]
    assert "not HHMM" in result.rejected[0]["error"]
    assert {s["instanceId"]: s["reason"] for s in result.skipped} == {
        "i-both": "both on and off due in this window",
        "i-off": "schedule disabled",
        "i-already": "start due, instance is running",
    }


@pytest.mark.parametrize("event, expected", [
    ({"time": "2024-05-06T08:35:00Z"}, MONDAY_0835),
    ({"time": "2024-05-06T10:35:00+02:00"}, MONDAY_0835),
    ({"time": "yesterday"}, None),
    ({}, None),
    ("not a dict", None),
])
def test_the_run_time_comes_from_the_scheduled_event(event, expected) -> None:
    assert event_time(event) == expected
