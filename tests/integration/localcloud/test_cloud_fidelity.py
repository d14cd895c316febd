"""The embedded cloud behaves as AWS does where moto alone would not.

- Stack parameters of type AWS::SSM::Parameter::Value<...> are read from the embedded SSM at
  deploy time (the value given is the parameter's name), also across nested stacks.
- DynamoDB conditional writes are atomic under concurrent requests (no lost updates).
- A Step Functions failure handled by Catch does not spill the interpreter's parse tree into
  the logs; the execution history still records it.
"""

from __future__ import annotations

import json
import logging
import sys
import textwrap
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from localcloud.cloud import LocalCloud
from localcloud.deployer import DeployError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as c:
        yield c


# --- SSM parameter types --------------------------------------------------------------------

CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  LayerArn:
    Type: AWS::SSM::Parameter::Value<String>
  Subnets:
    Type: AWS::SSM::Parameter::Value<List<String>>
    Default: /fidelity/subnets
  Plain:
    Type: String
    Default: plain
Resources:
  Echo:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /fidelity/echo
      Type: String
      Value: !Ref LayerArn
Outputs:
  LayerArn:
    Value: !Ref LayerArn
  SecondSubnet:
    Value: !Select [1, !Ref Subnets]
  Plain:
    Value: !Ref Plain
"""

ROOT = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  LayerArnParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /fidelity/layer-arn
      Type: String
      Value: arn:aws:lambda:us-east-1:123456789012:layer:common:7
  Child:
    Type: AWS::Serverless::Application
    Properties:
      Location: child.yaml
      Parameters:
        LayerArn: !Ref LayerArnParameter
Outputs:
  ChildLayerArn:
    Value: !GetAtt Child.Outputs.LayerArn
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_ssm_typed_parameters_resolve_from_parameter_store(cloud: LocalCloud,
                                                           tmp_path: Path) -> None:
    ssm = cloud.client("ssm")
    ssm.put_parameter(Name="/fidelity/subnets", Value="subnet-a,subnet-b", Type="StringList",
                      Overwrite=True)
    _write(tmp_path, "child.yaml", CHILD)
    root = _write(tmp_path, "root.yaml", ROOT)

    record = cloud.deploy(template=root, stack_name="fidelity")

    # The root created the SSM parameter first and passed its *name*; the child got its value.
    assert record.outputs["ChildLayerArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:common:7"
    child = record.children["Child"]
    assert child.outputs["SecondSubnet"] == "subnet-b"
    assert child.outputs["Plain"] == "plain"
    echoed = ssm.get_parameter(Name="/fidelity/echo")["Parameter"]["Value"]
    assert echoed == "arn:aws:lambda:us-east-1:123456789012:layer:common:7"


def test_missing_ssm_parameter_is_a_deploy_error(cloud: LocalCloud, tmp_path: Path) -> None:
    child = _write(tmp_path, "child.yaml", CHILD)
    with pytest.raises(DeployError) as err:
        cloud.deploy(template=child, stack_name="fidelity-missing",
                     parameters={"LayerArn": "/fidelity/no-such-parameter"})
    assert "LayerArn" in str(err.value)
    assert "/fidelity/no-such-parameter" in str(err.value)


# --- DynamoDB atomicity ---------------------------------------------------------------------


def test_concurrent_conditional_updates_lose_nothing(cloud: LocalCloud) -> None:
    ddb = boto3.client("dynamodb", endpoint_url=cloud.endpoint, region_name=cloud.region,
                       aws_access_key_id="x", aws_secret_access_key="x",
                       config=Config(max_pool_connections=48))
    ddb.create_table(TableName="fidelity-seats", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    seats, attempts = 20, 200

    def take(_: int) -> bool:
        try:
            ddb.update_item(TableName="fidelity-seats", Key={"id": {"S": "f"}},
                            UpdateExpression="SET seats = seats - :one",
                            ConditionExpression="seats > :zero",
                            ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}})
            return True
        except ddb.exceptions.ConditionalCheckFailedException:
            return False

    # A tiny switch interval makes the server's threads interleave inside moto's
    # check-then-write; without the lock this run loses updates every time.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        for _ in range(3):
            ddb.put_item(TableName="fidelity-seats",
                         Item={"id": {"S": "f"}, "seats": {"N": str(seats)}})
            with ThreadPoolExecutor(48) as pool:
                taken = sum(pool.map(take, range(attempts)))
            left = int(ddb.get_item(TableName="fidelity-seats",
                                    Key={"id": {"S": "f"}})["Item"]["seats"]["N"])
            assert (taken, left) == (seats, 0)
    finally:
        sys.setswitchinterval(interval)


# --- Step Functions interpreter logging -----------------------------------------------------


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_caught_state_failures_stay_out_of_the_logs(cloud: LocalCloud) -> None:
    # A Fail state inside a Parallel branch, caught by the Parallel: the failure travels up
    # through the interpreter's components, each of which used to log it.
    definition = {
        "StartAt": "Branches",
        "States": {
            "Branches": {"Type": "Parallel",
                         "Branches": [{"StartAt": "Boom", "States": {
                             "Boom": {"Type": "Fail", "Error": "Fidelity.Boom"}}}],
                         "Catch": [{"ErrorEquals": ["Fidelity.Boom"], "Next": "Handled"}],
                         "End": True},
            "Handled": {"Type": "Succeed"},
        },
    }
    sfn = cloud.client("stepfunctions")
    arn = sfn.create_state_machine(name="fidelity-catch", definition=json.dumps(definition),
                                   roleArn="arn:aws:iam::123456789012:role/x")["stateMachineArn"]
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    try:
        execution = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]
        deadline = time.monotonic() + 30
        while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
            assert time.monotonic() < deadline, "execution still running after 30 s"
            time.sleep(0.05)
    finally:
        logging.getLogger().removeHandler(collect)
    assert status == "SUCCEEDED"
    history = sfn.get_execution_history(executionArn=execution)["events"]
    assert any(e["type"] == "ParallelStateFailed" for e in history), [e["type"] for e in history]
    noisy = [r for r in collect.records
             if r.name.startswith("moto.stepfunctions") and r.levelno >= logging.ERROR]
    assert noisy == []
