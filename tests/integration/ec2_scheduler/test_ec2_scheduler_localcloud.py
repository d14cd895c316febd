"""ec2_scheduler on localcloud: the deployed schedule fires the real handler against the
embedded EC2; a fixed-time scheduled event shows the midnight crossing and the JSON result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"ec2_scheduler"})
        cloud.start_delivery()
        yield DemoContext(cloud, "ec2_scheduler")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/ec2_scheduler/demo.py", "ec2_scheduler_demo_it")


def test_the_stack_derives_the_window_from_its_rate(ctx) -> None:
    assert ctx.outputs["ScheduleRateMinutes"] in (10, "10")
    spec = ctx.cloud.find_function("ec2_scheduler/SchedulerFunction")
    assert spec.environment["RATE_MINUTES"] == "10"
    schedule = ctx.cloud.scheduler.find("ec2_scheduler/SchedulerFunctionSchedule")
    assert schedule.expression == "rate(10 minutes)"


def test_the_fired_schedule_acts_on_due_instances_only(ctx, demo) -> None:
    ec2 = ctx.client("ec2")
    fleet = demo.fleet_for_now(ec2, datetime.now(UTC))
    ctx.fire("SchedulerFunctionSchedule")
    assert ctx.cloud.wait_idle(30)
    states = {name: demo.state_of(ec2, iid) for name, iid in fleet.items()}
    assert states["start-me"] in ("pending", "running")
    assert states["stop-me"] in ("stopping", "stopped")
    assert states["disabled"] == states["bad-tag"] == states["not-today"] == "stopped"
    assert states["both"] == "running"


def test_a_run_after_midnight_finds_the_evening_action_and_reports_bad_tags(ctx, demo) -> None:
    ec2 = ctx.client("ec2")
    moment = (datetime.now(UTC) + timedelta(days=2)).replace(hour=0, minute=5, second=0,
                                                             microsecond=0)
    day_before, _ = demo.at(moment - timedelta(days=1))
    late = demo.launch(ec2, "late", f"{day_before};2358;{day_before};0600;", stopped=True)
    typo = demo.launch(ec2, "typo", f"{day_before};2358;{day_before};0600;;;", stopped=True)
    result = ctx.invoke("SchedulerFunction", demo.scheduled_event(moment))
    assert late in result["started"]
    assert result["now"] == moment.isoformat()
    assert result["window"]["from"] == (moment - timedelta(minutes=12)).isoformat()
    assert {r["instanceId"]: r["error"] for r in result["rejected"]}[typo] == \
        "6 fields; at most 5 (the 5th may only be 'disable')"
    assert demo.state_of(ec2, typo) == "stopped"
    assert demo.state_of(ec2, late) in ("pending", "running")
