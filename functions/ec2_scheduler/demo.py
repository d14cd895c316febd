"""The ec2_scheduler scenario for `localcloud demo` (helpers shared with the tests).

Part 1 fires the real schedule: instances are tagged with actions a few minutes before "now",
so the run the schedule starts must start, stop, skip and reject exactly the right ones.
Part 2 invokes the function with a scheduled event at a fixed moment just after midnight, to
show an action from the evening before being found (the seed's code missed it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

AMI = "ami-12c6146b"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def fire(self, schedule: str) -> dict[str, Any]: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def at(moment: datetime) -> tuple[str, str]:
    """(day, HHMM) of a UTC moment, as the tag writes them."""
    moment = moment.astimezone(UTC)
    return DAYS[moment.weekday()], moment.strftime("%H%M")


def launch(ec2: Any, name: str, tag: str | None, stopped: bool) -> str:
    tags = [{"Key": "Name", "Value": name}]
    if tag is not None:
        tags.append({"Key": "EntScheduler", "Value": tag})
    inst = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": tags}])["Instances"][0]
    if stopped:
        ec2.stop_instances(InstanceIds=[inst["InstanceId"]])
    return inst["InstanceId"]


def state_of(ec2: Any, instance_id: str) -> str:
    res = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return res[0]["Instances"][0]["State"]["Name"]


def fleet_for_now(ec2: Any, now: datetime) -> dict[str, str]:
    """Instances whose tags make the next run (at about `now`) act: name -> instance id."""
    day, hhmm = at(now - timedelta(minutes=3))
    other_day = DAYS[(DAYS.index(day) + 3) % 7]
    return {
        "start-me": launch(ec2, "start-me", f"{day};{hhmm};{other_day};1700;", stopped=True),
        "stop-me": launch(ec2, "stop-me", f"{other_day};0700;{day};{hhmm};", stopped=False),
        "disabled": launch(ec2, "disabled", f"{day};{hhmm};{other_day};1700;disable;",
                           stopped=True),
        "both": launch(ec2, "both", f"{day};{hhmm};{day};{hhmm};", stopped=False),
        "bad-tag": launch(ec2, "bad-tag", f"{day};{hhmm[:2]}:{hhmm[2:]};{other_day};1700;",
                          stopped=True),
        "not-today": launch(ec2, "not-today", f"{other_day};{hhmm};{other_day};1700;",
                            stopped=True),
    }


def scheduled_event(moment: datetime) -> dict[str, Any]:
    return {"version": "0", "id": "demo", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1", "resources": [], "detail": {}}


def run(ctx: DemoContext) -> None:
    ec2 = ctx.client("ec2")
    now = datetime.now(UTC)
    fleet = fleet_for_now(ec2, now)
    ctx.step(f"tagged {len(fleet)} instances with actions due at {at(now - timedelta(minutes=3))}")
    ctx.fire("SchedulerFunctionSchedule")
    ctx.wait_for("start-me to start", lambda: state_of(ec2, fleet["start-me"]) in (
        "pending", "running"))
    ctx.wait_for("stop-me to stop", lambda: state_of(ec2, fleet["stop-me"]) in (
        "stopping", "stopped"))
    unchanged = {"disabled": "stopped", "both": "running", "bad-tag": "stopped",
                 "not-today": "stopped"}
    for name, expected in unchanged.items():
        actual = state_of(ec2, fleet[name])
        if actual != expected:
            raise AssertionError(f"{name}: expected {expected}, found {actual}")
    ctx.step("schedule fired: start-me started, stop-me stopped; disabled, both-due, "
             "bad-tag and not-today untouched")

    # Part 2: a fixed moment three days away (so part 1's tags cannot match), just after
    # midnight, with an instance due at 23:55 the evening before.
    midnight = (now + timedelta(days=3)).replace(hour=0, minute=3, second=0, microsecond=0)
    day_before, _ = at(midnight - timedelta(days=1))
    late = launch(ec2, "late-evening", f"{day_before};2355;{day_before};0600;", stopped=True)
    result = ctx.invoke("SchedulerFunction", scheduled_event(midnight))
    if late not in result["started"]:
        raise AssertionError(f"the 23:55 action was missed after midnight: {result}")
    rejected = {r["instanceId"]: r["error"] for r in result["rejected"]}
    if fleet["bad-tag"] not in rejected:
        raise AssertionError(f"bad-tag was not reported: {result['rejected']}")
    ctx.step(f"run at {result['now']}: started the {day_before} 23:55 instance; "
             f"rejected bad-tag ({rejected[fleet['bad-tag']]})")
