"""Whole runs against moto's EC2 with a frozen clock: what is started, stopped, reported."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from ec2_schedule import _act, run
from ec2_scheduler_testlib import ROOT, launch, states

MONDAY_0835 = datetime(2024, 5, 6, 8, 35, tzinfo=UTC)
TUESDAY_0003 = datetime(2024, 5, 7, 0, 3, tzinfo=UTC)


def test_a_run_starts_stops_and_reports(ec2) -> None:
    start = launch(ec2, "mon,tue;0830;mon,tue;1700;", stopped=True, count=2)
    stop = launch(ec2, "sun;0900;mon;0826;")
    bad = launch(ec2, "mon;0830;mon;17:00;", stopped=True)
    disabled = launch(ec2, "mon;0830;mon;1700;disable;", stopped=True)
    both = launch(ec2, "mon;0830;mon;0830;")
    later = launch(ec2, "mon;0900;mon;1700;", stopped=True)
    untagged = launch(ec2, None, stopped=True)

    result = run(ec2, MONDAY_0835, rate_minutes=10)

    assert sorted(result["started"]) == sorted(start)
    assert result["stopped"] == stop
    assert result["rejected"] == [{"instanceId": bad[0], "tag": "mon;0830;mon;17:00;",
                                   "error": "off time '17:00' is not HHMM (24-hour, e.g. 0830)"}]
    assert {s["instanceId"] for s in result["skipped"]} == {disabled[0], both[0]}
    assert result["examined"] == 7  # every tagged instance, the untagged one is never listed
    assert result["failed"] == []
    assert result["window"] == {"from": "2024-05-06T08:23:00+00:00",
                                "to": "2024-05-06T08:35:00+00:00"}
    after = states(ec2, start + stop + bad + disabled + both + later + untagged)
    assert all(after[i] in ("pending", "running") for i in start)
    assert after[stop[0]] in ("stopping", "stopped")
    assert after[bad[0]] == after[disabled[0]] == after[later[0]] == "stopped"
    assert after[both[0]] == "running"
    assert after[untagged[0]] == "stopped"
    json.dumps(result)  # the result is the function's JSON answer


def test_a_second_run_in_the_overlap_does_nothing_more(ec2) -> None:
    ids = launch(ec2, "mon;0830;mon;1700;", stopped=True)
    assert run(ec2, MONDAY_0835, 10)["started"] == ids
    again = run(ec2, datetime(2024, 5, 6, 8, 41, tzinfo=UTC), 10)  # 08:30 still in the window
    assert again["started"] == []
    assert again["skipped"][0]["reason"].startswith("start due, instance is")


def test_midnight_crossing_on_real_instances(ec2) -> None:
    late = launch(ec2, "mon;2355;fri;1800;", stopped=True)
    midnight = launch(ec2, "tue;0000;fri;1800;", stopped=True)
    wrong_day = launch(ec2, "tue;2355;fri;1800;", stopped=True)
    result = run(ec2, TUESDAY_0003, 10)
    assert sorted(result["started"]) == sorted(late + midnight)
    assert states(ec2, wrong_day)[wrong_day[0]] == "stopped"


def test_the_rate_sets_the_window(ec2) -> None:
    ids = launch(ec2, "mon;0815;mon;1700;", stopped=True)  # 20 minutes before 08:35
    assert run(ec2, MONDAY_0835, rate_minutes=10)["started"] == []
    assert run(ec2, MONDAY_0835, rate_minutes=20)["started"] == ids  # window 22 minutes


def test_every_page_is_read_and_calls_are_batched(ec2) -> None:
    # moto pages by reservation: twelve launches, twelve reservations
    ids = [i for _ in range(12) for i in launch(ec2, "mon;0830;mon;1700;", stopped=True)]
    calls: list[int] = []
    describes: list[int] = []
    ec2.meta.events.register("provide-client-params.ec2.StartInstances",
                             lambda params, **_: calls.append(len(params["InstanceIds"])))
    ec2.meta.events.register("provide-client-params.ec2.DescribeInstances",
                             lambda params, **_: describes.append(1))
    result = run(ec2, MONDAY_0835, 10, batch_size=5, page_size=5)
    assert sorted(result["started"]) == sorted(ids)
    assert calls == [5, 5, 2]
    assert len(describes) >= 3  # 12 instances in pages of 5


def test_a_refused_batch_is_retried_one_by_one(ec2) -> None:
    ids = launch(ec2, "mon;0830;mon;1700;", stopped=True, count=3)
    ghost = "i-0123456789abcdef0"
    done, failed = _act(ec2.start_instances, [ids[0], ghost, ids[1], ids[2]], batch_size=50)
    assert done == ids
    assert failed == [{"instanceId": ghost, "error": "InvalidInstanceID.NotFound"}]


def test_the_handler_runs_at_the_scheduled_time(ec2, load_module) -> None:
    app = load_module("functions/ec2_scheduler/scheduler/app.py", "ec2_scheduler_app")
    ids = launch(ec2, "mon;0830;mon;1700;", stopped=True)
    event = json.loads(Path(ROOT / "events/ec2_scheduler/scheduled.json").read_text())
    context = SimpleNamespace(function_name="SchedulerFunction", memory_limit_in_mb=256,
                              invoked_function_arn="arn:aws:lambda:us-east-1:123:function:f",
                              aws_request_id="req-1")
    result = app.handler(event, context)
    assert result["now"] == "2024-05-06T08:35:00+00:00"
    assert result["started"] == ids
