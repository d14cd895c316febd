"""Step Functions on the embedded cloud as on AWS: aws-sdk Tasks of services whose SDK id has a
hyphen (redshiftdata -> redshift-data) with JSON results, and several state machines that have
each run before starting again."""

from __future__ import annotations

import json
import time

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

DEFINITION = {
    "StartAt": "Describe",
    "States": {
        "Describe": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:redshiftdata:describeStatement",
            "Parameters": {"Id.$": "$.id"},
            "ResultSelector": {"Id.$": "$.Id", "Status.$": "$.Status",
                               "Sql.$": "$.QueryString"},
            "End": True,
        }
    },
}


def test_redshiftdata_describe_statement_task() -> None:
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
        statement = cloud.client("redshift-data").execute_statement(
            ClusterIdentifier="c1", Database="dev", DbUser="etl", Sql="SELECT 1")
        sfn = cloud.client("stepfunctions")
        arn = sfn.create_state_machine(
            name="sdk", definition=json.dumps(DEFINITION),
            roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=arn,
                                        input=json.dumps({"id": statement["Id"]}))
        deadline = time.monotonic() + 30
        while (desc := sfn.describe_execution(executionArn=execution["executionArn"]))[
                "status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"]) == {"Id": statement["Id"], "Status": "STARTED",
                                          "Sql": "SELECT 1"}


def _wait(sfn, arn: str) -> dict:
    deadline = time.monotonic() + 30
    while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING" and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    return desc


def test_machines_that_have_run_start_again() -> None:
    """StartExecution copies the machine; the copy once dragged in every other machine's
    finished executions (uncopyable locks) and the start failed with a 500."""
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
        sfn = cloud.client("stepfunctions")
        arns = [sfn.create_state_machine(name=f"m{i}", definition=definition,
                                         roleArn="arn:aws:iam::123456789012:role/sfn")[
                    "stateMachineArn"] for i in range(2)]
        statuses = []
        for _ in range(2):
            for arn in arns:
                started = sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')
                statuses.append(_wait(sfn, started["executionArn"])["status"])
        listed = [len(sfn.list_executions(stateMachineArn=arn)["executions"]) for arn in arns]
    assert statuses == ["SUCCEEDED"] * 4
    assert listed == [2, 2]
