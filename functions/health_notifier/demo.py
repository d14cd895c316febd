"""The health_notifier scenario for `localcloud demo` (helpers shared with the tests).

AWS Health events are put on the default event bus (as AWS Health does); the rule routes them
to the notifier, whose readable notifications reach an SQS queue subscribed to the topic. With
the default RemediationMode (off) the instance with scheduled maintenance is left running and
the notification says what to do; an event of another source is not routed.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any, Protocol

EVENTS = Path(__file__).resolve().parents[2] / "events" / "health_notifier"


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def inbox(ctx: DemoContext) -> str:
    """A queue subscribed to the notification topic (raw delivery); returns its URL."""
    sqs, sns = ctx.client("sqs"), ctx.client("sns")
    url = sqs.create_queue(QueueName=f"health-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=ctx.outputs["NotificationTopicArn"], Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    return url


def health_event(name: str, instance_ids: list[str] | None = None, tag: str = "") -> dict:
    """A sample event (events/health_notifier/<name>.json) with its own ARN and entities."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event["detail"]["eventArn"] += f"-{tag or uuid.uuid4().hex[:6]}"
    if instance_ids is not None:
        event["detail"]["affectedEntities"] = [{"entityValue": i} for i in instance_ids]
        event["resources"] = list(instance_ids)
    return event


def put(ctx: DemoContext, event: dict[str, Any]) -> None:
    out = ctx.client("events").put_events(Entries=[{
        "Source": event["source"], "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]), "Resources": event.get("resources", [])}])
    assert out["FailedEntryCount"] == 0, out


def messages(ctx: DemoContext, url: str, count: int, timeout: float = 30) -> list[str]:
    got: list[str] = []

    def check() -> bool:
        for m in ctx.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                                   WaitTimeSeconds=0).get("Messages", []):
            got.append(m["Body"])
        return len(got) >= count

    ctx.wait_for(f"{count} notification(s)", check, timeout=timeout)
    return got


def run(ctx: DemoContext) -> None:
    ec2 = ctx.client("ec2")
    url = inbox(ctx)
    iid = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=[{
        "ResourceType": "instance", "Tags": [{"Key": "HealthAutoRemediate", "Value": "true"}]
    }])["Instances"][0]["InstanceId"]
    tag = uuid.uuid4().hex[:6]
    put(ctx, health_event("ec2_retirement_scheduled", [iid], tag))
    put(ctx, health_event("ec2_operational_issue", tag=tag))
    put(ctx, {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification",
              "detail": {"instance-id": iid, "state": "running"}})
    got = messages(ctx, url, 2)
    retirement = next(m for m in got if "retirement" in m)
    issue = next(m for m in got if "EC2 operational issue" in m)
    if f"Affected resources (1): {iid}" not in retirement:
        raise AssertionError(f"the retirement notice does not name {iid}:\n{retirement}")
    if "Remediation: off" not in retirement:
        raise AssertionError(f"remediation should be off by default:\n{retirement}")
    state = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    if state["State"]["Name"] != "running":
        raise AssertionError(f"{iid} was touched with remediation off: {state['State']}")
    ctx.step("retirement of " + iid + " notified:\n      "
             + "\n      ".join(retirement.splitlines()[:4]))
    ctx.step("operational issue notified: " + issue.splitlines()[0])
    extra = ctx.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
    if extra:
        raise AssertionError(f"an aws.ec2 event was notified: {extra[0]['Body'][:200]}")
    ctx.step(f"{iid} left running (RemediationMode off); the aws.ec2 event was not routed")
