"""The finder on moto: a stream INSERT -> targets, targets.json, job SCORING, one execution."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

EVENTS = Path(__file__).resolve().parents[3] / "events" / "crispr_targets"

CONTEXT = SimpleNamespace(aws_request_id="lambda-1", function_name="FinderFunction",
                          memory_limit_in_mb=512,
                          invoked_function_arn="arn:aws:lambda:us-east-1:123:function:Finder")
JOB = "0123456789abcdef0123456789abcdef"
DESERIALIZE = TypeDeserializer().deserialize


@pytest.fixture
def env(aws: Any, finder_app: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    role = aws.iam.create_role(RoleName=f"sfn-{aws.bucket}",
                               AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = aws.sfn.create_state_machine(
        name=f"scoring-{aws.bucket}", roleArn=role,
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
    )["stateMachineArn"]
    store = finder_app.JobStore(aws.dynamodb, aws.s3, aws.sfn, aws.jobs_table,
                                aws.targets_table, aws.bucket, machine)
    monkeypatch.setattr(finder_app, "STORE", store)
    return SimpleNamespace(aws=aws, store=store, machine=machine, app=finder_app)


def _stream_event() -> dict[str, Any]:
    return json.loads((EVENTS / "stream_insert.json").read_text())


def _put_job(env: Any, event: dict[str, Any]) -> None:
    # The item the stream record says was inserted, as the API wrote it.
    image = event["Records"][0]["dynamodb"]["NewImage"]
    env.aws.jobs().put_item(Item={k: DESERIALIZE(v) for k, v in image.items()})


def _job(env: Any, job_id: str = JOB) -> dict[str, Any]:
    return env.aws.jobs().get_item(Key={"job_id": job_id})["Item"]


def test_insert_finds_targets_and_starts_one_execution(env: Any) -> None:
    event = _stream_event()
    _put_job(env, event)
    assert env.app.handler(event, CONTEXT) == {"batchItemFailures": []}
    sequence = event["Records"][0]["dynamodb"]["NewImage"]["sequence"]["S"]
    from cas9_sites import find_candidates

    expected = find_candidates(sequence)
    assert len(expected) >= 5
    items = env.aws.targets().query(
        KeyConditionExpression="job_id = :j", ExpressionAttributeValues={":j": JOB})["Items"]
    assert [i["target_id"] for i in items] == [c.target_id for c in expected]
    assert {(int(i["position"]), i["strand"], i["protospacer"]) for i in items} == {
        (c.position, c.strand, c.protospacer) for c in expected}
    assert all(int(i["expires_at"]) == 1744366500 for i in items)
    listed = json.loads(env.aws.s3.get_object(Bucket=env.aws.bucket,
                                              Key=f"jobs/{JOB}/targets.json")["Body"].read())
    assert listed["targets"] == [c.to_dict() for c in expected]
    job = _job(env)
    assert (job["status"], int(job["target_count"])) == ("SCORING", len(expected))
    executions = env.aws.sfn.list_executions(stateMachineArn=env.machine)["executions"]
    assert [e["name"] for e in executions] == [JOB]
    assert job["execution_arn"] == executions[0]["executionArn"]


def test_a_second_delivery_changes_nothing(env: Any) -> None:
    event = _stream_event()
    _put_job(env, event)
    env.app.handler(event, CONTEXT)
    assert env.app.handler(copy.deepcopy(event), CONTEXT) == {"batchItemFailures": []}
    assert len(env.aws.sfn.list_executions(stateMachineArn=env.machine)["executions"]) == 1
    # And once the job is DONE, a late redelivery does not move it back.
    env.aws.jobs().update_item(Key={"job_id": JOB}, UpdateExpression="SET #s = :d",
                               ExpressionAttributeNames={"#s": "status"},
                               ExpressionAttributeValues={":d": "DONE"})
    assert env.app.process_job({**event["Records"][0]["dynamodb"]["NewImage"],
                                "job_id": JOB, "status": "QUEUED", "sequence": "ACGT" * 2
                                + "ACGTACGTACGTACGTACGTTGG"}, env.store) == "skipped"
    assert _job(env)["status"] == "DONE"


def test_modify_and_remove_records_are_ignored(env: Any) -> None:
    event = _stream_event()
    for name in ("MODIFY", "REMOVE"):
        event["Records"][0]["eventName"] = name
        assert env.app.handler(copy.deepcopy(event), CONTEXT) == {"batchItemFailures": []}
    assert env.aws.targets().scan()["Count"] == 0
    assert env.aws.sfn.list_executions(stateMachineArn=env.machine)["executions"] == []


def test_a_job_without_sites_is_done_with_zero_targets(env: Any) -> None:
    event = _stream_event()
    event["Records"][0]["dynamodb"]["NewImage"]["sequence"] = {"S": "ACGT" * 10}
    _put_job(env, event)
    env.app.handler(event, CONTEXT)
    job = _job(env)
    assert (job["status"], int(job["target_count"])) == ("DONE", 0)
    assert env.aws.sfn.list_executions(stateMachineArn=env.machine)["executions"] == []


def test_a_job_with_an_unusable_sequence_fails_with_the_reason(env: Any) -> None:
    event = _stream_event()
    event["Records"][0]["dynamodb"]["NewImage"]["sequence"] = {"S": "ACGTXX"}
    _put_job(env, event)
    assert env.app.handler(event, CONTEXT) == {"batchItemFailures": []}  # not retried
    job = _job(env)
    assert job["status"] == "FAILED"
    assert job["error"]["error"] == "InvalidJob"
    assert "no usable sequence" in job["error"]["reason"]


def test_a_transient_failure_is_reported_for_that_record_only(env: Any) -> None:
    good = _stream_event()
    _put_job(env, good)
    bad = copy.deepcopy(good["Records"][0])
    other = "f" * 32
    bad["dynamodb"]["NewImage"]["job_id"] = {"S": other}
    bad["dynamodb"]["Keys"]["job_id"] = {"S": other}
    bad["dynamodb"]["SequenceNumber"] = "222"
    env.aws.jobs().put_item(Item={"job_id": other, "status": "QUEUED"})
    event = {"Records": [good["Records"][0], bad]}

    original = env.store.write_targets

    def flaky(job_id: str, *args: Any) -> None:
        if job_id == other:
            raise env.app.ClientError({"Error": {"Code": "ProvisionedThroughputExceeded",
                                                 "Message": "slow down"}}, "BatchWriteItem")
        original(job_id, *args)

    env.store.write_targets = flaky
    assert env.app.handler(event, CONTEXT) == {"batchItemFailures": [{"itemIdentifier": "222"}]}
    assert _job(env)["status"] == "SCORING"
    assert _job(env, other)["status"] == "QUEUED"  # left for the retry, nothing lost
