"""Usage records, duplicate detection and aggregation: plain functions, no AWS."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from usage_aggregation import (
    BadRecord,
    Usage,
    aggregate,
    cycle_of,
    group_by_device_hour,
    lake_rows,
    next_cycle_start,
    parse_usage,
    select_new,
)

T0 = int(datetime(2026, 5, 31, 23, 58, tzinfo=UTC).timestamp())  # two minutes before June
WINDOW = 50 * 60


def usage(device: str = "dev-1", minute: int = T0, reported_delay: int = 65, *,
          account: str = "acct-1", server: str = "edge-1", b_in: int = 100,
          b_out: int = 10) -> Usage:
    return Usage(account, device, server, minute, minute + reported_delay, b_in, b_out)


def test_parse_usage_round_trips_what_the_ingest_writes() -> None:
    u = usage(b_in=123, b_out=45)
    assert parse_usage(u.to_json()) == u
    assert parse_usage(u.to_json().encode()) == u


@pytest.mark.parametrize("data, reason", [
    (b"\xff\xfe", "not JSON"),
    ("not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (json.dumps({**json.loads(usage().to_json()), "minute": T0 + 30}), "start of a minute"),
    (json.dumps({**json.loads(usage().to_json()), "bytes_in": -1}), "bytes_in"),
    (json.dumps({**json.loads(usage().to_json()), "bytes_in": True}), "bytes_in"),
    (json.dumps({**json.loads(usage().to_json()), "bytes_out": 1.5}), "bytes_out"),
    (json.dumps({**json.loads(usage().to_json()), "reported_at": T0 - 1}), "reported_at"),
    (json.dumps({**json.loads(usage().to_json()), "device_id": "a/b"}), "device_id"),
    (json.dumps({k: v for k, v in json.loads(usage().to_json()).items()
                 if k != "account_id"}), "account_id"),
])
def test_parse_usage_rejects_what_is_not_a_usage_record(data: str | bytes, reason: str) -> None:
    with pytest.raises(BadRecord, match=reason):
        parse_usage(data)


def test_a_copy_within_the_window_is_dropped_and_one_outside_it_counted() -> None:
    first = usage(reported_delay=60)
    retry = usage(reported_delay=60)  # the same report again
    resent = usage(reported_delay=60 + WINDOW - 1)
    late = usage(reported_delay=60 + WINDOW)
    counted, dropped, stamps = select_new([first, retry, resent, late], {}, WINDOW)
    assert counted == [first, late]
    assert dropped == [retry, resent]
    assert stamps == {first.item_id: late.reported_at}


def test_known_stamps_decide_and_are_not_changed() -> None:
    known = {usage().item_id: T0 + 600}
    older = usage(reported_delay=60)  # reported before the counted copy: never counted again
    other_server = usage(server="edge-2")
    counted, dropped, after = select_new([older, other_server], known, WINDOW)
    assert (counted, dropped) == ([other_server], [older])
    assert known == {usage().item_id: T0 + 600}
    assert after == {**known, other_server.item_id: other_server.reported_at}


def test_aggregate_sums_each_distinct_key_once() -> None:
    june = T0 + 120
    batch = [usage(), usage(minute=T0 + 60, b_in=1, b_out=2), usage("dev-2", b_in=5, b_out=5),
             usage("dev-1", june, b_in=7, b_out=0), usage("dev-9", account="acct-2")]
    agg = aggregate(batch)
    hour = T0 - T0 % 3600
    assert agg.device_hours[("dev-1", "acct-1", hour)].bytes == 113
    assert agg.device_hours[("dev-1", "acct-1", june)].records == 1
    assert len(agg.device_hours) == 4 and len(agg.device_days) == 4
    assert agg.account_hours[("acct-1", hour)].bytes == 123
    assert agg.account_hours[("acct-1", hour)].devices == {"dev-1", "dev-2"}
    assert {k: t.bytes for k, t in agg.account_cycles.items()} == {
        ("acct-1", "2026-05"): 123, ("acct-1", "2026-06"): 7, ("acct-2", "2026-05"): 110}


def test_group_by_device_hour_keeps_stream_order() -> None:
    a, b, c = usage(b_in=1), usage("dev-2"), usage(minute=T0 + 60, b_in=2)
    assert group_by_device_hour([a, b, c]) == {
        ("dev-1", T0 - T0 % 3600): [a, c], ("dev-2", T0 - T0 % 3600): [b]}


def test_cycles_are_calendar_months() -> None:
    assert cycle_of(T0) == "2026-05"
    assert cycle_of(T0 + 120) == "2026-06"
    assert next_cycle_start("2026-05") == datetime(2026, 6, 1, tzinfo=UTC)
    assert next_cycle_start("2026-12") == datetime(2027, 1, 1, tzinfo=UTC)


def test_lake_rows_are_partitioned_by_date() -> None:
    rows = lake_rows(aggregate([usage(), usage(minute=T0 + 120, b_in=1, b_out=1)]))
    assert set(rows) == {(d, date) for d in ("device_hourly", "device_daily", "account_hourly")
                         for date in ("2026-05-31", "2026-06-01")}
    assert rows[("device_hourly", "2026-05-31")] == [{
        "device_id": "dev-1", "account_id": "acct-1", "hour": "2026-05-31T23",
        "bytes_in": 100, "bytes_out": 10, "records": 1}]
    assert rows[("account_hourly", "2026-06-01")][0]["devices"] == 1
    assert rows[("device_daily", "2026-06-01")][0]["date"] == "2026-06-01"
