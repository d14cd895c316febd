"""Health events: parsing, the readable summary, and the stop/start on moto's EC2."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from health_events import (
    IN_PROGRESS_TAG,
    RemediationIncomplete,
    needs_remediation,
    parse_event,
    remediate,
    summary,
)
from health_notifier_testlib import describe, launch, sample

FAR = 1e12  # a deadline that never comes


def test_parse_and_summarise_a_scheduled_retirement() -> None:
    ev = parse_event(sample("ec2_retirement_scheduled.json"))
    assert (ev.service, ev.type_code, ev.category, ev.status) == (
        "EC2", "AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", "scheduledChange", "upcoming")
    assert ev.entities == ["i-0123456789abcdef0"]
    assert needs_remediation(ev)
    subject, message = summary(ev)
    assert subject == "AWS Health scheduledChange: EC2 instance retirement scheduled (us-east-1)"
    assert len(subject) <= 100
    lines = message.splitlines()
    assert lines[0] == "EC2 instance retirement scheduled in us-east-1"
    assert lines[2] == "Start: Sat, 11 May 2024 15:00:00 GMT   End: Sat, 11 May 2024 17:00:00 GMT"
    assert lines[3] == "Affected resources (1): i-0123456789abcdef0"
    assert "degradation of the underlying hardware" in message
    assert "Remediation: off (RemediationMode parameter)" in message


def test_issues_and_other_services_are_notified_without_remediation() -> None:
    issue = parse_event(sample("ec2_operational_issue.json"))
    assert not needs_remediation(issue)
    assert "Affected resources (0): none listed" in summary(issue)[1]
    assert "Remediation" not in summary(issue)[1]
    rds = parse_event(sample("rds_maintenance_scheduled.json"))
    assert not needs_remediation(rds)
    closed = sample("ec2_retirement_scheduled.json")
    closed["detail"]["statusCode"] = "closed"
    assert not needs_remediation(parse_event(closed))


@pytest.mark.parametrize("code, expected", [
    ("AWS_EC2_INSTANCE_RETIREMENT_SCHEDULED", True),
    ("AWS_EC2_PERSISTENT_INSTANCE_RETIREMENT_SCHEDULED", True),
    ("AWS_EC2_INSTANCE_STOP_SCHEDULED", True),
    ("AWS_EC2_INSTANCE_REBOOT_MAINTENANCE_SCHEDULED", True),
    ("AWS_EC2_INSTANCE_REBOOT_FLEXIBLE_MAINTENANCE_SCHEDULED", True),
    ("AWS_EC2_SYSTEM_REBOOT_MAINTENANCE_SCHEDULED", True),
    ("AWS_EC2_OPERATIONAL_ISSUE", False),
    ("AWS_EC2_DEDICATED_HOST_RETIREMENT_SCHEDULED", False),
])
def test_which_event_types_are_maintenance(code: str, expected: bool) -> None:
    event = sample("ec2_retirement_scheduled.json")
    event["detail"]["eventTypeCode"] = code
    assert needs_remediation(parse_event(event)) is expected


def test_not_a_health_event_is_refused() -> None:
    with pytest.raises(ValueError, match="not an AWS Health event"):
        parse_event({"source": "aws.ec2", "detail": {}})
    with pytest.raises(ValueError, match="without eventTypeCode"):
        parse_event({"source": "aws.health", "detail": {"service": "EC2"}})


def test_a_long_subject_is_cut_to_what_sns_accepts() -> None:
    event = sample("ec2_operational_issue.json")
    event["detail"]["eventTypeCode"] = "AWS_EC2_" + "VERY_LONG_" * 12 + "ISSUE"
    subject, _ = summary(parse_event(event))
    assert len(subject) == 100 and subject.endswith("...")


def test_remediation_stops_and_starts_only_allowed_instances(ec2) -> None:
    opted = launch(ec2, {"HealthAutoRemediate": "true"})
    other = launch(ec2)
    assert remediate(ec2, opted, "evt", "tagged", FAR) == {
        "instanceId": opted, "action": "stopped and started"}
    assert remediate(ec2, other, "evt", "tagged", FAR) == {
        "instanceId": other, "action": "skipped",
        "reason": "not opted in (HealthAutoRemediate=true)"}
    assert remediate(ec2, other, "evt", "all", FAR)["action"] == "stopped and started"
    after = describe(ec2, opted)
    assert after["State"]["Name"] in ("pending", "running")
    assert IN_PROGRESS_TAG not in {t["Key"] for t in after.get("Tags", [])}
    assert remediate(ec2, "i-0123456789abcdef0", "evt", "all", FAR)["reason"] == \
        "instance not found"


def test_an_instance_its_owner_stopped_stays_stopped(ec2) -> None:
    iid = launch(ec2, stopped=True)
    assert remediate(ec2, iid, "evt", "all", FAR) == {
        "instanceId": iid, "action": "skipped", "reason": "instance is stopped, not running"}
    assert describe(ec2, iid)["State"]["Name"] == "stopped"


class SlowStop:
    """moto stops at once; this client reports 'stopping' for the first `polls` describes."""

    def __init__(self, ec2: Any, polls: int) -> None:
        self.ec2, self.polls = ec2, polls

    def describe_instances(self, **kwargs: Any) -> Any:
        out = self.ec2.describe_instances(**kwargs)
        inst = out["Reservations"][0]["Instances"][0]
        if inst["State"]["Name"] == "stopped" and self.polls > 0:
            self.polls -= 1
            inst["State"]["Name"] = "stopping"
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ec2, name)


def test_a_slow_stop_is_waited_for_and_a_timeout_is_finished_by_the_retry(ec2) -> None:
    iid = launch(ec2)
    clock = SimpleNamespace(t=0.0)
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        clock.t += s

    # enough time: three polls of "stopping", then stopped, then started
    assert remediate(SlowStop(ec2, 3), iid, "evt", "all", deadline=100, clock=lambda: clock.t,
                     sleep=sleep)["action"] == "stopped and started"
    assert sleeps == [5.0, 5.0, 5.0]
    # too little time: the instance is left stopped with the marker; the retry starts it
    clock.t = 0.0
    with pytest.raises(RemediationIncomplete):
        remediate(SlowStop(ec2, 10), iid, "evt", "all", deadline=12, clock=lambda: clock.t,
                  sleep=sleep)
    marked = describe(ec2, iid)
    assert marked["State"]["Name"] == "stopped"
    assert IN_PROGRESS_TAG in {t["Key"] for t in marked["Tags"]}
    assert remediate(ec2, iid, "evt", "all", FAR)["action"] == "stopped and started"
    assert describe(ec2, iid)["State"]["Name"] in ("pending", "running")


def test_instance_store_roots_are_not_stopped(ec2) -> None:
    iid = launch(ec2)

    class InstanceStore(SlowStop):
        def describe_instances(self, **kwargs: Any) -> Any:
            out = self.ec2.describe_instances(**kwargs)
            out["Reservations"][0]["Instances"][0]["RootDeviceType"] = "instance-store"
            return out

    out = remediate(InstanceStore(ec2, 0), iid, "evt", "all", FAR)
    assert out["action"] == "skipped" and "instance-store" in out["reason"]
    assert describe(ec2, iid)["State"]["Name"] == "running"


def _handler(load_module, monkeypatch, mode: str) -> Any:
    sns = boto3.client("sns", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    topic = sns.create_topic(Name="health")["TopicArn"]
    queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic)
    monkeypatch.setenv("REMEDIATION_MODE", mode)
    from common import aws

    aws.clear_cache()
    app = load_module("functions/health_notifier/notifier/app.py", "health_notifier_app")
    return app, sqs, queue


CONTEXT = SimpleNamespace(function_name="f", memory_limit_in_mb=256, aws_request_id="r",
                          invoked_function_arn="arn:aws:lambda:us-east-1:123:function:f",
                          get_remaining_time_in_millis=lambda: 900_000)


def test_the_handler_notifies_and_remediates_when_enabled(ec2, load_module,
                                                          monkeypatch) -> None:
    app, sqs, queue = _handler(load_module, monkeypatch, "tagged")
    opted = launch(ec2, {"HealthAutoRemediate": "true"})
    other = launch(ec2)
    result = app.handler(sample("ec2_retirement_scheduled.json", ids=[opted, other]), CONTEXT)
    assert [o["action"] for o in result["remediation"]] == ["stopped and started", "skipped"]
    body = sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]
    assert f"  {opted}: stopped and started" in body
    assert f"  {other}: skipped - not opted in (HealthAutoRemediate=true)" in body


def test_the_handler_leaves_instances_alone_by_default(ec2, load_module, monkeypatch) -> None:
    app, sqs, queue = _handler(load_module, monkeypatch, "off")
    iid = launch(ec2, {"HealthAutoRemediate": "true"})
    result = app.handler(sample("ec2_retirement_scheduled.json", ids=[iid]), CONTEXT)
    assert result["remediation"] == []
    assert describe(ec2, iid)["State"]["Name"] == "running"
    assert "Remediation: off" in sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"]
    with pytest.raises(ValueError):
        app.handler({"source": "aws.ec2", "detail": {}}, CONTEXT)
