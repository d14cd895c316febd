"""Snapshot tags, due slots (time zones, days, midnight, DST) and whole runs on moto's EC2 with
a frozen clock: creation, no double snapshots, expiry that touches only our snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from ebs_snapshots_testlib import MANAGED, ours, tags_of, volume
from snapshot_schedule import (
    EXPIRES,
    MANAGED_BY,
    SLOT,
    TagError,
    due_slots,
    parse_tag,
    run,
)

KEY = "scheduler:ebs-snapshot:"
DELTA = timedelta(minutes=17)
MONDAY_0905 = datetime(2024, 5, 6, 9, 5, tzinfo=UTC)  # 2024-05-06 is a Monday


@pytest.mark.parametrize("key, value, at, retention, tz, days", [
    ("0900", "0900;3;utc;weekdays", time(9), 3, UTC, {0, 1, 2, 3, 4}),
    ("1600", "1600;15;UTC;all", time(16), 15, UTC, set(range(7))),
    ("0000", "0000;1;Europe/Paris;sat,sun", time(0), 1, ZoneInfo("Europe/Paris"), {5, 6}),
    ("2330", "2330;30;America/Los_Angeles;Mon, fri;", time(23, 30), 30,
     ZoneInfo("America/Los_Angeles"), {0, 4}),
])
def test_every_tag_form_parses(key, value, at, retention, tz, days) -> None:
    s = parse_tag(KEY + key, value)
    assert (s.at, s.retention_days, s.tz, s.days) == (at, retention, tz, frozenset(days))


@pytest.mark.parametrize("key, value, message", [
    ("0900", "0900;3;utc", "3 field(s)"),
    ("0900", "9:00;3;utc;all", "not HHMM"),
    ("2400", "2400;3;utc;all", "not HHMM"),
    ("0900", "1000;3;utc;all", "differs from the value's"),
    ("0900", "0900;0;utc;all", "retention '0'"),
    ("0900", "0900;three;utc;all", "retention 'three'"),
    ("0900", "0900;3;Mars/Olympus;all", "not an IANA name"),
    ("0900", "0900;3;utc;weekends", "use all, weekdays"),
    ("0900", "", "1 field(s)"),
])
def test_bad_tags_are_rejected_with_a_reason(key, value, message) -> None:
    with pytest.raises(TagError) as err:
        parse_tag(KEY + key, value)
    assert message in str(err.value)


def test_slots_in_the_window_by_day_and_zone() -> None:
    weekdays = parse_tag(KEY + "0900", "0900;3;utc;weekdays")
    assert due_slots(weekdays, MONDAY_0905, DELTA) == [datetime(2024, 5, 6, 9, 0, tzinfo=UTC)]
    saturday = MONDAY_0905 + timedelta(days=5)
    assert due_slots(weekdays, saturday, DELTA) == []
    assert due_slots(weekdays, MONDAY_0905 + timedelta(minutes=20), DELTA) == []
    # 09:00 in Paris (UTC+2 in May) is 07:00 UTC
    paris = parse_tag(KEY + "0900", "0900;3;Europe/Paris;mon")
    assert due_slots(paris, datetime(2024, 5, 6, 7, 10, tzinfo=UTC), DELTA) == [
        datetime(2024, 5, 6, 7, 0, tzinfo=UTC)]
    assert due_slots(paris, MONDAY_0905, DELTA) == []


def test_days_are_judged_on_the_local_date_across_midnight() -> None:
    # 23:30 Friday in Los Angeles is 06:30 Saturday UTC: due for a "fri" tag only
    la = parse_tag(KEY + "2330", "2330;7;America/Los_Angeles;fri")
    now = datetime(2024, 5, 11, 6, 40, tzinfo=UTC)  # Saturday in UTC
    assert due_slots(la, now, DELTA) == [datetime(2024, 5, 11, 6, 30, tzinfo=UTC)]
    la_sat = parse_tag(KEY + "2330", "2330;7;America/Los_Angeles;sat")
    assert due_slots(la_sat, now, DELTA) == []
    # a UTC window crossing midnight: Sunday 23:55 seen from Monday 00:05
    sunday = parse_tag(KEY + "2355", "2355;1;utc;sun")
    assert due_slots(sunday, datetime(2024, 5, 6, 0, 5, tzinfo=UTC), DELTA) == [
        datetime(2024, 5, 5, 23, 55, tzinfo=UTC)]


def test_daylight_saving_changes() -> None:
    paris = parse_tag(KEY + "0230", "0230;1;Europe/Paris;all")
    # 2024-03-31 02:30 does not exist in Paris (02:00 -> 03:00): the slot still happens once,
    # at the offset before the change (01:30 UTC)
    spring = due_slots(paris, datetime(2024, 3, 31, 1, 40, tzinfo=UTC), DELTA)
    assert spring == [datetime(2024, 3, 31, 1, 30, tzinfo=UTC)]
    # 2024-10-27 02:30 happens twice: the first one (00:30 UTC) only
    autumn = parse_tag(KEY + "0230", "0230;1;Europe/Paris;all")
    assert due_slots(autumn, datetime(2024, 10, 27, 0, 40, tzinfo=UTC), DELTA) == [
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC)]
    assert due_slots(autumn, datetime(2024, 10, 27, 1, 40, tzinfo=UTC), DELTA) == []


def test_a_run_creates_due_snapshots_tagged_with_their_expiry(regions) -> None:
    ec2 = regions["us-east-1"]
    due = volume(ec2, {KEY + "0900": "0900;3;utc;weekdays", "Name": "db-data",
                       "team": "payments"})
    later = volume(ec2, {KEY + "1200": "1200;3;utc;weekdays"})
    bad = volume(ec2, {KEY + "0900": "0900;3;utc;someday"})
    plain = volume(ec2, {"Name": "no schedule"})
    result = run(ec2, MONDAY_0905, 15, MANAGED, "us-east-1")
    assert [c["volumeId"] for c in result["created"]] == [due]
    assert result["created"][0]["expires"] == "2024-05-09T09:00:00Z"
    assert result["rejected"] == [{"volumeId": bad, "tag": KEY + "0900",
                                   "value": "0900;3;utc;someday",
                                   "error": "days 'someday': use all, weekdays or a list of "
                                            "mon..sun"}]
    snaps = ours(ec2)
    assert len(snaps) == 1 and snaps[0]["VolumeId"] == due
    tags = tags_of(snaps[0])
    assert tags == {"Name": "db-data", "team": "payments", MANAGED_BY: MANAGED,
                    EXPIRES: "2024-05-09T09:00:00Z", SLOT: "0900@2024-05-06T09:00:00Z"}
    assert later not in {s["VolumeId"] for s in ours(ec2)}
    assert plain not in {s["VolumeId"] for s in ours(ec2)}


def test_overlapping_runs_take_a_slot_once(regions) -> None:
    ec2 = regions["us-east-1"]
    vid = volume(ec2, {KEY + "0900": "0900;3;utc;all", KEY + "0910": "0910;3;utc;all"})
    first = run(ec2, MONDAY_0905, 15, MANAGED, "us-east-1")
    second = run(ec2, MONDAY_0905 + timedelta(minutes=10), 15, MANAGED, "us-east-1")
    assert [c["slot"] for c in first["created"]] == ["0900@2024-05-06T09:00:00Z"]
    assert [c["slot"] for c in second["created"]] == ["0910@2024-05-06T09:10:00Z"]
    assert [a["slot"] for a in second["alreadyTaken"]] == ["0900@2024-05-06T09:00:00Z"]
    assert len(ours(ec2)) == 2 and {s["VolumeId"] for s in ours(ec2)} == {vid}


def test_expiry_deletes_only_our_expired_snapshots_in_both_regions(regions) -> None:
    ec2, west = regions["us-east-1"], regions["us-west-2"]
    vid = volume(ec2, {KEY + "0900": "0900;2;utc;all"})
    run(ec2, MONDAY_0905, 15, MANAGED, "us-east-1")  # expires Wednesday 09:00
    ours_id = ours(ec2)[0]["SnapshotId"]
    # someone else's snapshot with the same expiry tag, and another stack's
    foreign = ec2.create_snapshot(VolumeId=vid, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [{"Key": EXPIRES, "Value": "2024-05-01T00:00:00Z"}]}]
    )["SnapshotId"]
    other_stack = ec2.create_snapshot(VolumeId=vid, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [{"Key": MANAGED_BY, "Value": "another-stack"},
                                             {"Key": EXPIRES, "Value": "2024-05-01T00:00:00Z"}]}]
    )["SnapshotId"]
    copy = west.copy_snapshot(SourceRegion="us-east-1", SourceSnapshotId=ours_id,
                              TagSpecifications=[{"ResourceType": "snapshot", "Tags": [
                                  {"Key": MANAGED_BY, "Value": MANAGED},
                                  {"Key": EXPIRES, "Value": "2024-05-08T09:00:00Z"}]}]
                              )["SnapshotId"]
    tuesday = run(ec2, MONDAY_0905 + timedelta(days=1, hours=3), 15, MANAGED, "us-east-1",
                  {"us-west-2": west})
    assert tuesday["deleted"] == []
    wednesday = run(ec2, datetime(2024, 5, 8, 9, 1, tzinfo=UTC), 15, MANAGED, "us-east-1",
                    {"us-west-2": west})
    assert sorted((d["snapshotId"], d["region"]) for d in wednesday["deleted"]) == sorted(
        [(ours_id, "us-east-1"), (copy, "us-west-2")])
    left = {s["SnapshotId"] for s in ec2.describe_snapshots(
        SnapshotIds=[foreign, other_stack])["Snapshots"]}
    assert left == {foreign, other_stack}
    assert [s["SnapshotId"] for s in ours(ec2) if s["SnapshotId"] == ours_id] == []


def test_the_handler_runs_at_the_scheduled_time(regions, load_module, monkeypatch) -> None:
    from types import SimpleNamespace

    monkeypatch.setenv("MANAGED_BY", MANAGED)
    monkeypatch.setenv("DESTINATION_REGION", "us-west-2")
    monkeypatch.setenv("RATE_MINUTES", "15")
    from common import aws

    aws.clear_cache()
    app = load_module("functions/ebs_snapshots/snapshots/app.py", "ebs_snapshots_app")
    vid = volume(regions["us-east-1"], {KEY + "0900": "0900;3;utc;weekdays"})
    context = SimpleNamespace(function_name="f", memory_limit_in_mb=256, aws_request_id="r",
                              invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f")
    result = app.scheduler_handler({"time": "2024-05-06T09:05:00Z"}, context)
    assert result["now"] == "2024-05-06T09:05:00Z"
    assert [c["volumeId"] for c in result["created"]] == [vid]
