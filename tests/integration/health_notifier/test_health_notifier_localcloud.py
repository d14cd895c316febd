"""health_notifier on localcloud: aws.health events on the default bus -> the rule -> the
notifier -> SNS (an SQS inbox subscribed); deployed with HealthNotifierRemediationMode=tagged so
the stop/start runs against the embedded EC2 (the default, off, is the demo's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"health_notifier"},
                     parameters={"HealthNotifierRemediationMode": "tagged"})
        cloud.start_delivery()
        yield DemoContext(cloud, "health_notifier")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/health_notifier/demo.py", "health_notifier_demo_it")


def launch(ctx, opted: bool) -> str:
    tags = [{"Key": "HealthAutoRemediate", "Value": "true"}] if opted else [
        {"Key": "Name", "Value": "not-opted"}]
    return ctx.client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}])["Instances"][0][
        "InstanceId"]


def test_scheduled_maintenance_is_notified_and_opted_in_instances_move(ctx, demo) -> None:
    assert ctx.outputs["RemediationMode"] == "tagged"
    url = demo.inbox(ctx)
    opted, other = launch(ctx, True), launch(ctx, False)
    ec2 = ctx.client("ec2")
    states: list[str] = []
    demo.put(ctx, demo.health_event("ec2_retirement_scheduled", [opted, other]))
    body = demo.messages(ctx, url, 1)[0]
    assert body.startswith("EC2 instance retirement scheduled in us-east-1")
    assert f"  {opted}: stopped and started" in body
    assert f"  {other}: skipped - not opted in (HealthAutoRemediate=true)" in body
    for iid in (opted, other):
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        states.append(inst["State"]["Name"])
        assert "HealthRemediationInProgress" not in {t["Key"] for t in inst.get("Tags", [])}
    assert states[0] in ("pending", "running") and states[1] == "running"


def test_other_health_events_are_notified_without_action(ctx, demo) -> None:
    url = demo.inbox(ctx)
    demo.put(ctx, demo.health_event("rds_maintenance_scheduled"))
    demo.put(ctx, demo.health_event("ec2_operational_issue"))
    bodies = demo.messages(ctx, url, 2)
    firsts = sorted(b.splitlines()[0] for b in bodies)
    assert firsts == ["EC2 operational issue in us-east-1",
                      "RDS maintenance scheduled in us-east-1"]
    assert all("Remediation" not in b for b in bodies)


def test_a_malformed_health_event_ends_in_the_failure_queue(ctx, demo) -> None:
    url = demo.inbox(ctx)
    ctx.client("events").put_events(Entries=[{"Source": "aws.health",
                                              "DetailType": "AWS Health Event",
                                              "Detail": '{"service": "EC2"}'}])
    sqs = ctx.client("sqs")
    failed = ctx.wait_for("the on-failure queue", lambda: sqs.receive_message(
        QueueUrl=ctx.outputs["NotifierFailureQueueUrl"]).get("Messages"), timeout=30)
    assert "without eventTypeCode" in failed[0]["Body"]
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages")
