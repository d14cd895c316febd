"""S3 buckets as templates declare them: encryption in CloudFormation's shape, and the house
TLS-only bucket policy (a conditional Deny) that must not lock clients out locally."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud.cloud import LocalCloud
from localcloud.deployer import s3_encryption_rules

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: AES256
            BucketKeyEnabled: "true"
  DataPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: !Ref Data
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Sid: DenyInsecureTransport
            Effect: Deny
            Principal: "*"
            Action: s3:*
            Resource: [!GetAtt Data.Arn, !Sub "${Data.Arn}/*"]
            Condition:
              Bool:
                aws:SecureTransport: "false"
          - Sid: NothingUnderLocked
            Effect: Deny
            Principal: "*"
            Action: s3:PutObject
            Resource: !Sub "${Data.Arn}/locked/*"
Outputs:
  BucketName:
    Value: !Ref Data
"""


def test_encryption_rules_take_the_s3_api_shape() -> None:
    cfn = {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                           "KMSMasterKeyID": "alias/x"},
         "BucketKeyEnabled": "false"}]}
    assert s3_encryption_rules(cfn) == [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                "KMSMasterKeyID": "alias/x"},
         "BucketKeyEnabled": False}]
    assert s3_encryption_rules({}) == []


@pytest.fixture(scope="module")
def bucket(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, str]]:
    folder = tmp_path_factory.mktemp("s3app")
    (folder / "template.yaml").write_text(TEMPLATE)
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True).start()
    try:
        record = cloud.deploy(template=Path(folder / "template.yaml"))
        yield cloud, record.outputs["BucketName"]
    finally:
        cloud.stop()


def test_encrypted_bucket_is_deployed_with_its_rule(bucket: tuple[LocalCloud, str]) -> None:
    cloud, name = bucket
    rules = cloud.client("s3").get_bucket_encryption(Bucket=name)[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert rules[0]["BucketKeyEnabled"] is True


def test_tls_only_policy_is_kept_and_does_not_lock_clients_out(
        bucket: tuple[LocalCloud, str]) -> None:
    cloud, name = bucket
    s3 = cloud.client("s3")
    policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    assert policy["Statement"][0]["Sid"] == "DenyInsecureTransport"
    s3.put_object(Bucket=name, Key="data/a.txt", Body=b"hello")
    assert s3.get_object(Bucket=name, Key="data/a.txt")["Body"].read() == b"hello"


def test_an_unconditional_deny_still_applies(bucket: tuple[LocalCloud, str]) -> None:
    cloud, name = bucket
    with pytest.raises(ClientError) as err:
        cloud.client("s3").put_object(Bucket=name, Key="locked/b.txt", Body=b"no")
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
