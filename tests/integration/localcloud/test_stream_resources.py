"""Stream-related resources deploy as CloudFormation would create them.

- Event source mapping settings given through Number parameters (text after !Ref) reach the
  mapping as numbers, and the pollers use them.
- AWS::KinesisFirehose::DeliveryStream (Direct PUT to S3) is created; records put to it land in
  the bucket under its prefix.
- A DynamoDB write that changes nothing adds no stream record (as on AWS; moto adds MODIFY).
- AWS::Logs::LogStream is created in its log group (Firehose error logging names one).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  BatchSize:
    Type: Number
    Default: 7
  Window:
    Type: Number
    Default: 2
  Bisect:
    Type: String
    Default: "false"
  BufferSeconds:
    Type: Number
    Default: 60
Resources:
  Archive:
    Type: AWS::S3::Bucket
  DeliveryRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: firehose.amazonaws.com}
            Action: sts:AssumeRole
  Delivery:
    Type: AWS::KinesisFirehose::DeliveryStream
    Properties:
      DeliveryStreamType: DirectPut
      ExtendedS3DestinationConfiguration:
        BucketARN: !GetAtt Archive.Arn
        RoleARN: !GetAtt DeliveryRole.Arn
        Prefix: records/
        CompressionFormat: UNCOMPRESSED
        BufferingHints:
          IntervalInSeconds: !Ref BufferSeconds
          SizeInMBs: 5
        CloudWatchLoggingOptions:
          Enabled: "true"
          LogGroupName: !Ref DeliveryLogs
          LogStreamName: !Ref DeliveryLogStream
  DeliveryLogs:
    Type: AWS::Logs::LogGroup
  DeliveryLogStream:
    Type: AWS::Logs::LogStream
    Properties:
      LogGroupName: !Ref DeliveryLogs
      LogStreamName: S3Delivery
  Items:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
      KeySchema:
        - {AttributeName: pk, KeyType: HASH}
      StreamSpecification:
        StreamViewType: NEW_IMAGE
  Clicks:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Clicks:
          Type: Kinesis
          Properties:
            Stream: !GetAtt Clicks.Arn
            StartingPosition: TRIM_HORIZON
            BatchSize: !Ref BatchSize
            MaximumBatchingWindowInSeconds: !Ref Window
            BisectBatchOnFunctionError: !Ref Bisect
Outputs:
  StreamName:
    Value: !Ref Clicks
  DeliveryName:
    Value: !Ref Delivery
  DeliveryArn:
    Value: !GetAtt Delivery.Arn
  ArchiveName:
    Value: !Ref Archive
  ItemsName:
    Value: !Ref Items
  ItemsStreamArn:
    Value: !GetAtt Items.StreamArn
  DeliveryLogGroup:
    Value: !Ref DeliveryLogs
"""


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, dict]]:
    root: Path = tmp_path_factory.mktemp("streams")
    (root / "fn").mkdir()
    (root / "fn" / "app.py").write_text(textwrap.dedent("""\
        def handler(event, context):
            return {"batchItemFailures": []}
    """))
    (root / "template.yaml").write_text(TEMPLATE)
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
        record = cloud.deploy(template=root / "template.yaml")
        yield cloud, record.outputs


def test_number_parameters_reach_the_event_source_mapping_as_numbers(deployed) -> None:
    cloud, _ = deployed
    mappings = cloud.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len(mappings) == 1
    esm = mappings[0]
    assert esm["BatchSize"] == 7
    assert esm["MaximumBatchingWindowInSeconds"] == 2
    assert esm["BisectBatchOnFunctionError"] is False
    # What the pollers read: typed values, so "false" does not count as a true bisect flag.
    config = cloud.event_sources[esm["UUID"]]
    assert (config["BatchSize"], config["BisectBatchOnFunctionError"]) == (7, False)


def test_a_firehose_delivery_stream_delivers_to_its_s3_prefix(deployed) -> None:
    cloud, outputs = deployed
    firehose = cloud.client("firehose")
    name = outputs["DeliveryName"]
    assert outputs["DeliveryArn"].endswith(f":deliverystream/{name}")
    desc = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    dest = desc["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert dest["BufferingHints"] == {"IntervalInSeconds": 60, "SizeInMBs": 5}
    assert dest["CloudWatchLoggingOptions"]["Enabled"] is True
    streams = cloud.client("logs").describe_log_streams(
        logGroupName=outputs["DeliveryLogGroup"])["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["S3Delivery"]
    out = firehose.put_record_batch(DeliveryStreamName=name, Records=[
        {"Data": b'{"a": 1}\n'}, {"Data": b'{"a": 2}\n'}])
    assert out["FailedPutCount"] == 0
    s3 = cloud.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=outputs["ArchiveName"])["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("records/")
    body = s3.get_object(Bucket=outputs["ArchiveName"], Key=keys[0])["Body"].read()
    assert body == b'{"a": 1}\n{"a": 2}\n'


def test_a_write_that_changes_nothing_adds_no_stream_record(deployed) -> None:
    cloud, outputs = deployed
    ddb = cloud.client("dynamodb")
    table = outputs["ItemsName"]
    item = {"pk": {"S": "k1"}, "n": {"N": "1"}}
    ddb.put_item(TableName=table, Item=item)
    ddb.put_item(TableName=table, Item=item)  # a replay: the same item again
    ddb.update_item(TableName=table, Key={"pk": {"S": "k1"}}, UpdateExpression="SET n = :n",
                    ExpressionAttributeValues={":n": {"N": "1"}})  # no change either
    ddb.put_item(TableName=table, Item={**item, "n": {"N": "2"}})
    streams = cloud.client("dynamodbstreams")
    arn = outputs["ItemsStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [(r["eventName"], r["dynamodb"]["NewImage"]["n"]["N"]) for r in records] == [
        ("INSERT", "1"), ("MODIFY", "2")]
