"""The s3_watcher scenario for `localcloud demo`, and the CloudTrail event builder the tests
share.

CloudTrail does not run locally (the trail is deployed, but the embedded cloud records no API
activity): the scenario makes the S3 calls for real and puts the CloudTrail records those calls
produce on AWS ("AWS API Call via CloudTrail", source aws.s3, the record in `detail`) on the
default bus with PutEvents; the stack's rule routes them to the function.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Protocol

ACCOUNT = "123456789012"


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


def identity(kind: str, name: str) -> dict[str, Any]:
    """A CloudTrail userIdentity: an IAM user, or an assumed-role session of role `name`."""
    if kind == "user":
        return {"type": "IAMUser", "principalId": f"AIDA{uuid.uuid4().hex[:16].upper()}",
                "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "accountId": ACCOUNT,
                "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": name}
    session = f"session-{uuid.uuid4().hex[:6]}"
    role_id = f"AROA{uuid.uuid4().hex[:16].upper()}"
    return {"type": "AssumedRole", "principalId": f"{role_id}:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
            "accountId": ACCOUNT, "accessKeyId": "ASIAIOSFODNN7EXAMPLE",
            "sessionContext": {"sessionIssuer": {
                "type": "Role", "principalId": role_id,
                "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "accountId": ACCOUNT,
                "userName": name},
                "attributes": {"creationDate": "2024-05-01T09:00:00Z",
                               "mfaAuthenticated": "false"}}}


def cloudtrail_record(event_name: str, bucket: str, key: str, who: dict[str, Any], *,
                      source_ip: str = "198.51.100.23", error_code: str | None = None,
                      event_id: str | None = None) -> dict[str, Any]:
    """The CloudTrail record of one S3 object-level call (eventVersion 1.09 shape)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    record: dict[str, Any] = {
        "eventVersion": "1.09", "userIdentity": who, "eventTime": now,
        "eventSource": "s3.amazonaws.com", "eventName": event_name, "awsRegion": "us-east-1",
        "sourceIPAddress": source_ip,
        "userAgent": "[aws-cli/2.15.0 Python/3.11.6 Linux/6.1 botocore/2.4.5]",
        "requestParameters": {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com",
                              "key": key},
        "responseElements": None,
        "additionalEventData": {"SignatureVersion": "SigV4", "bytesTransferredIn": 0,
                                "AuthenticationMethod": "AuthHeader",
                                "x-amz-id-2": "EXAMPLEid2", "bytesTransferredOut": 0},
        "requestID": uuid.uuid4().hex[:16].upper(), "eventID": event_id or str(uuid.uuid4()),
        "readOnly": event_name.startswith(("Get", "Head", "List")),
        "resources": [{"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{key}"},
                      {"accountId": ACCOUNT, "type": "AWS::S3::Bucket",
                       "ARN": f"arn:aws:s3:::{bucket}"}],
        "eventType": "AwsApiCall", "managementEvent": False, "recipientAccountId": ACCOUNT,
        "eventCategory": "Data",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": f"{bucket}.s3.amazonaws.com"}}
    if error_code:
        record["errorCode"] = error_code
        record["errorMessage"] = "Access Denied"
    return record


def put_trail_events(events: Any, records: list[dict[str, Any]]) -> None:
    """Put CloudTrail records on the default bus as CloudTrail delivers them to EventBridge."""
    for i in range(0, len(records), 10):
        out = events.put_events(Entries=[{
            "Source": "aws.s3", "DetailType": "AWS API Call via CloudTrail",
            "Detail": json.dumps(r), "Resources": []} for r in records[i:i + 10]])
        assert out["FailedEntryCount"] == 0, out


def audit_of(ddb: Any, table: str, event_id: str) -> list[dict[str, Any]]:
    items = ddb.scan(TableName=table, FilterExpression="event_id = :e",
                     ExpressionAttributeValues={":e": {"S": event_id}}).get("Items", [])
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def subscribe_queue(ctx: DemoContext, topic_arn: str, name: str) -> str:
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    ctx.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                Attributes={"RawMessageDelivery": "true"})
    return url


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def run(ctx: DemoContext) -> None:
    out = ctx.outputs
    s3, ddb, sqs = ctx.client("s3"), ctx.client("dynamodb"), ctx.client("sqs")
    bucket, table = out["WatchedBucketName"], out["AuditTableName"]
    trail = ctx.client("cloudtrail").get_event_selectors(TrailName=out["TrailName"])
    values = trail["EventSelectors"][0]["DataResources"][0]["Values"]
    ctx.step(f"trail {out['TrailName']} logs S3 data events for {', '.join(values)}")
    run_id = uuid.uuid4().hex[:6]
    inbox = subscribe_queue(ctx, out["AlertTopicArn"], f"watcher-demo-{run_id}")
    analyst, contractor = identity("user", "analyst"), identity("user", "contractor-bob")
    plain, leak, named = (f"{run_id}/reports/q1.csv", f"{run_id}/uploads/customers.csv",
                          f"{run_id}/hr/payroll/2024-05.csv")
    s3.put_object(Bucket=bucket, Key=plain, Body=b"region,revenue\nnorth,10\n")
    s3.put_object(Bucket=bucket, Key=leak,
                  Body=b"name,ssn,card\nAda,078-05-1120,4111 1111 1111 1111\n")
    s3.put_object(Bucket=bucket, Key=named, Body=b"totals only\n")
    records = [cloudtrail_record("PutObject", bucket, plain, analyst),
               cloudtrail_record("PutObject", bucket, leak, analyst),
               cloudtrail_record("PutObject", bucket, named, analyst),
               cloudtrail_record("GetObject", bucket, plain, contractor,
                                 source_ip="203.0.113.99")]
    ctx.step("4 S3 calls made; their CloudTrail records put on the bus (PutEvents)")
    put_trail_events(ctx.client("events"), records)
    ctx.wait_for("every event audited",
                 lambda: all(audit_of(ddb, table, r["eventID"]) for r in records), timeout=30)
    who = audit_of(ddb, table, records[3]["eventID"])[0]
    assert who["principal"] == contractor["arn"] and who["source_ip"] == "203.0.113.99"
    assert who["event_name"] == "GetObject" and who["object"] == f"{bucket}/{plain}"
    ctx.step("audit table: who (ARN), what (GetObject on the object), when, from where")
    alerts: list[dict[str, Any]] = []
    ctx.wait_for("three alerts", lambda: alerts.extend(drain(sqs, inbox)) or len(alerts) >= 3)
    ctx.step("waiting a moment for an alert that should not come")
    time.sleep(1.0)
    alerts += drain(sqs, inbox)
    by_event = {a["event_id"]: a for a in alerts}
    assert set(by_event) == {r["eventID"] for r in records[1:]}, sorted(by_event)
    assert by_event[records[1]["eventID"]]["pii_content"] == {leak: {"ssn": 1, "card_number": 1}}
    assert by_event[records[2]["eventID"]]["pii_keys"] == {named: ["keyword:payroll"]}
    assert by_event[records[3]["eventID"]]["reasons"] == ["watched_principal"]
    assert "078-05-1120" not in json.dumps(alerts), "a PII value leaked into an alert"
    ctx.step("alerts: PII content (ssn, card number), a payroll key, a watched contractor; "
             "the plain upload raised none")
