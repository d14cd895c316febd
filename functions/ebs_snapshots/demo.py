"""The ebs_snapshots scenario for `localcloud demo` (helpers shared with the tests).

1. Volumes tagged with a snapshot time three minutes ago (and one bad tag); the real schedule
   fires and the scheduler takes the due snapshot, tagged with its expiry.
2. The EBS "createSnapshot succeeded" event (which EBS sends on AWS; put on the bus here) makes
   the copy function copy it to the destination region with its tags.
3. A run at a moment after the expiry deletes the snapshot and its copy, and nothing else.
4. An Inspector "run completed" notification becomes one summary on the notification topic;
   the weekly assessment function reports that no template is configured (locally there is no
   Inspector Classic: see functions/ebs_snapshots/README.md).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

PREFIX = "scheduler:ebs-snapshot:"


class DemoContext(Protocol):
    outputs: dict[str, Any]
    cloud: Any

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def fire(self, schedule: str) -> dict[str, Any]: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def regional(ctx: DemoContext, service: str, region: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=ctx.cloud.endpoint, region_name=region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def volume(ec2: Any, tags: dict[str, str]) -> str:
    return ec2.create_volume(Size=8, AvailabilityZone="us-east-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    ])["VolumeId"]


def snapshots_of(ec2: Any, volume_id: str, managed_by: str) -> list[dict[str, Any]]:
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": "volume-id", "Values": [volume_id]},
        {"Name": f"tag:{PREFIX}managed-by", "Values": [managed_by]}])["Snapshots"]


def copies_of(ec2: Any, region: str, snapshot_id: str) -> list[dict[str, Any]]:
    return ec2.describe_snapshots(OwnerIds=["self"], Filters=[
        {"Name": f"tag:{PREFIX}copied-from", "Values": [f"{region}/{snapshot_id}"]}])[
        "Snapshots"]


def snapshot_event(region: str, snapshot_id: str, volume_id: str) -> dict[str, Any]:
    return {"event": "createSnapshot", "result": "succeeded", "cause": "", "request-id": "",
            "snapshot_id": f"arn:aws:ec2::{region}:snapshot/{snapshot_id}",
            "source": f"arn:aws:ec2::{region}:volume/{volume_id}",
            "startTime": datetime.now(UTC).isoformat(), "endTime": datetime.now(UTC).isoformat()}


def put_snapshot_event(ctx: DemoContext, detail: dict[str, Any]) -> None:
    out = ctx.client("events").put_events(Entries=[{
        "Source": "aws.ec2", "DetailType": "EBS Snapshot Notification",
        "Detail": json.dumps(detail), "Resources": [detail["snapshot_id"]]}])
    assert out["FailedEntryCount"] == 0, out


def inbox(ctx: DemoContext, topic_arn: str) -> str:
    sqs, sns = ctx.client("sqs"), ctx.client("sns")
    url = sqs.create_queue(QueueName=f"ebs-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def scheduled(moment: datetime) -> dict[str, Any]:
    return {"version": "0", "id": "demo", "detail-type": "Scheduled Event",
            "source": "aws.events", "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1", "resources": [], "detail": {}}


def run(ctx: DemoContext) -> None:
    out = ctx.outputs
    managed_by, dest = out["ManagedBy"], out["DestinationRegion"]
    ec2, west = ctx.client("ec2"), regional(ctx, "ec2", dest)
    now = datetime.now(UTC)
    hhmm = (now - timedelta(minutes=3)).strftime("%H%M")
    vid = volume(ec2, {PREFIX + hhmm: f"{hhmm};2;utc;all", "Name": "orders-db",
                       "team": "payments"})
    bad = volume(ec2, {PREFIX + hhmm: f"{hhmm};2;Mars/Olympus;all"})
    ctx.fire("SnapshotSchedulerFunctionSchedule")
    snaps = ctx.wait_for("the scheduled snapshot", lambda: snapshots_of(ec2, vid, managed_by))
    snap = snaps[0]
    tags = {t["Key"]: t["Value"] for t in snap["Tags"]}
    assert tags["team"] == "payments" and PREFIX + "expires" in tags, tags
    assert not snapshots_of(ec2, bad, managed_by), "a bad tag made a snapshot"
    ctx.step(f"schedule fired: {snap['SnapshotId']} of {vid} (slot {tags[PREFIX + 'slot']}, "
             f"expires {tags[PREFIX + 'expires']}); the bad tag made none")

    put_snapshot_event(ctx, snapshot_event("us-east-1", snap["SnapshotId"], vid))
    copies = ctx.wait_for(f"the copy in {dest}", lambda: copies_of(west, "us-east-1",
                                                                  snap["SnapshotId"]))
    copy_tags = {t["Key"]: t["Value"] for t in copies[0]["Tags"]}
    assert copy_tags["team"] == "payments" and copy_tags[PREFIX + "expires"] == \
        tags[PREFIX + "expires"], copy_tags
    ctx.step(f"createSnapshot event -> copy {copies[0]['SnapshotId']} in {dest}, tags carried")

    foreign = ec2.create_snapshot(VolumeId=vid, Description="someone else's")["SnapshotId"]
    expiry = datetime.fromisoformat(tags[PREFIX + "expires"].replace("Z", "+00:00"))
    later = (expiry + timedelta(days=3)).replace(hour=(expiry.hour + 12) % 24)
    result = ctx.invoke("SnapshotSchedulerFunction", scheduled(later))
    deleted = {(d["snapshotId"], d["region"]) for d in result["deleted"]}
    assert (snap["SnapshotId"], "us-east-1") in deleted, result
    assert (copies[0]["SnapshotId"], dest) in deleted, result
    assert ec2.describe_snapshots(SnapshotIds=[foreign])["Snapshots"], "foreign deleted"
    ctx.step(f"run at {result['now']}: deleted the expired snapshot and its copy; "
             f"{foreign} (not ours) kept; bad tag reported: {result['rejected'][0]['error']}")

    url = inbox(ctx, out["NotificationTopicArn"])
    run_arn = ("arn:aws:inspector:us-east-1:123456789012:target/0-demo/template/0-demo/run/"
               f"0-{uuid.uuid4().hex[:8]}")
    ctx.client("sns").publish(TopicArn=out["InspectorFindingsTopicArn"], Message=json.dumps({
        "template": run_arn.rsplit("/run/", 1)[0], "event": "ASSESSMENT_RUN_COMPLETED",
        "run": run_arn, "time": now.isoformat(), "target": run_arn.split("/template/")[0],
        "findingsCount": "{arn:aws:inspector:us-east-1:316112463485:rulespackage/0-gEjTy7T7=4}"}))

    def summary() -> Any:
        msgs = ctx.client("sqs").receive_message(QueueUrl=url).get("Messages", [])
        return [json.loads(m["Body"]) for m in msgs]

    note = ctx.wait_for("the Inspector summary", summary)[0]
    assert note["Subject"] == "Inspector: run completed, 4 finding(s)", note
    assert run_arn in note["Message"]
    ctx.step(f"Inspector run completed -> one summary: {note['Subject']!r}")
    weekly = ctx.invoke("AssessmentFunction", scheduled(now))
    assert weekly == {"started": False, "reason": "no AssessmentTemplateArn configured"}, weekly
    ctx.step(f"weekly assessment: {weekly['reason']} (the default)")
