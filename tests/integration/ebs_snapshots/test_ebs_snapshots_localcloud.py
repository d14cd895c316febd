"""ebs_snapshots on localcloud: the fired schedule snapshots the embedded EC2's volumes, the
EBS event on the bus copies to us-west-2 (tags, encryption), expiry deletes only ours, and an
Inspector notification on its topic becomes one summary."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from localcloud.cloud import LocalCloud
from localcloud.demo import DemoContext

pytestmark = pytest.mark.integration
PREFIX = "scheduler:ebs-snapshot:"


@pytest.fixture(scope="module")
def ctx() -> Iterator[DemoContext]:
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"ebs_snapshots"})
        cloud.start_delivery()
        yield DemoContext(cloud, "ebs_snapshots")
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/ebs_snapshots/demo.py", "ebs_snapshots_demo_it")


def test_scheduled_snapshot_copy_and_expiry(ctx, demo) -> None:
    out = ctx.outputs
    ec2, west = ctx.client("ec2"), demo.regional(ctx, "ec2", out["DestinationRegion"])
    moment = datetime(2031, 3, 4, 9, 5, tzinfo=UTC)  # a Tuesday; driven by the event's time
    vid = demo.volume(ec2, {PREFIX + "0900": "0900;3;utc;weekdays", "Name": "ledger"})
    weekend = demo.volume(ec2, {PREFIX + "0900": "0900;3;utc;sat,sun"})
    result = ctx.invoke("SnapshotSchedulerFunction", demo.scheduled(moment))
    created = {c["volumeId"]: c for c in result["created"]}
    assert vid in created and weekend not in created
    assert created[vid]["expires"] == "2031-03-07T09:00:00Z"
    again = ctx.invoke("SnapshotSchedulerFunction",
                       demo.scheduled(moment + timedelta(minutes=10)))
    assert vid not in {c["volumeId"] for c in again["created"]}
    snap = created[vid]["snapshotId"]

    demo.put_snapshot_event(ctx, demo.snapshot_event("us-east-1", snap, vid))
    copy = ctx.wait_for("the copy", lambda: demo.copies_of(west, "us-east-1", snap))[0]
    tags = {t["Key"]: t["Value"] for t in copy["Tags"]}
    assert tags["Name"] == "ledger" and tags[PREFIX + "expires"] == "2031-03-07T09:00:00Z"
    demo.put_snapshot_event(ctx, demo.snapshot_event("us-east-1", snap, vid))  # a duplicate
    assert ctx.cloud.wait_idle(30)
    assert len(demo.copies_of(west, "us-east-1", snap)) == 1

    expired = ctx.invoke("SnapshotSchedulerFunction",
                         demo.scheduled(datetime(2031, 3, 7, 9, 1, tzinfo=UTC)))
    assert {(snap, "us-east-1"), (copy["SnapshotId"], "us-west-2")} <= {
        (d["snapshotId"], d["region"]) for d in expired["deleted"]}
    assert snap not in {s["SnapshotId"] for s in demo.snapshots_of(ec2, vid, out["ManagedBy"])}
    assert copy["SnapshotId"] not in {s["SnapshotId"] for s in west.describe_snapshots(
        OwnerIds=["self"])["Snapshots"]}


def test_an_encrypted_snapshot_is_copied_encrypted(ctx, demo) -> None:
    ec2, west = ctx.client("ec2"), demo.regional(ctx, "ec2", "us-west-2")
    vid = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a", Encrypted=True)["VolumeId"]
    snap = ec2.create_snapshot(VolumeId=vid, TagSpecifications=[{
        "ResourceType": "snapshot", "Tags": [
            {"Key": PREFIX + "managed-by", "Value": ctx.outputs["ManagedBy"]},
            {"Key": PREFIX + "expires", "Value": "2031-01-01T00:00:00Z"}]}])["SnapshotId"]
    demo.put_snapshot_event(ctx, demo.snapshot_event("us-east-1", snap, vid))
    copy = ctx.wait_for("the copy", lambda: demo.copies_of(west, "us-east-1", snap))[0]
    assert copy["Encrypted"] is True


def test_an_inspector_run_is_one_summary(ctx, demo) -> None:
    out = ctx.outputs
    url = demo.inbox(ctx, out["NotificationTopicArn"])
    run = "arn:aws:inspector:us-east-1:123456789012:target/0-t/template/0-t/run/0-it"
    sns = ctx.client("sns")
    sns.publish(TopicArn=out["InspectorFindingsTopicArn"], Message=json.dumps({
        "event": "ASSESSMENT_RUN_STARTED", "run": run}))
    sns.publish(TopicArn=out["InspectorFindingsTopicArn"], Message=json.dumps({
        "event": "ASSESSMENT_RUN_COMPLETED", "run": run, "template": run.split("/run/")[0],
        "findingsCount": "{arn:aws:inspector:us-east-1:316112463485:rulespackage/0-a=2, "
                         "arn:aws:inspector:us-east-1:316112463485:rulespackage/0-b=5}"}))
    assert ctx.cloud.wait_idle(30)
    messages = ctx.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)[
        "Messages"]
    assert len(messages) == 1  # the run's start is not worth a notification
    note = json.loads(messages[0]["Body"])
    assert note["Subject"] == "Inspector: run completed, 7 finding(s)"
    assert "Findings per rules package: 0-a=2, 0-b=5" in note["Message"]
