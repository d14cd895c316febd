"""AWS::CloudTrail::Trail as templates declare it: created in the embedded CloudTrail with its
S3 data-event selectors and logging state, Ref and GetAtt resolvable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Logs:
    Type: AWS::S3::Bucket
  Trail:
    Type: AWS::CloudTrail::Trail
    Properties:
      S3BucketName: !Ref Logs
      S3KeyPrefix: trail
      IsLogging: true
      IsMultiRegionTrail: "false"
      IncludeGlobalServiceEvents: false
      EnableLogFileValidation: true
      EventSelectors:
        - ReadWriteType: All
          IncludeManagementEvents: "false"
          DataResources:
            - Type: AWS::S3::Object
              Values: ["arn:aws:s3:::watched/private/", "arn:aws:s3:::other/"]
  Quiet:
    Type: AWS::CloudTrail::Trail
    Properties:
      TrailName: quiet-trail
      S3BucketName: !Ref Logs
      IsLogging: false
Outputs:
  TrailName:
    Value: !Ref Trail
  TrailArn:
    Value: !GetAtt Trail.Arn
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, dict]]:
    folder = tmp_path_factory.mktemp("trailapp")
    (folder / "template.yaml").write_text(TEMPLATE)
    cloud = LocalCloud(aws_port=0, api_port=0, quiet=True).start()
    try:
        record = cloud.deploy(template=Path(folder / "template.yaml"))
        yield cloud, record.outputs
    finally:
        cloud.stop()


def test_trail_has_its_data_event_selectors(cloud: tuple[LocalCloud, dict]) -> None:
    c, outputs = cloud
    ct = c.client("cloudtrail")
    trail = ct.get_trail(Name=outputs["TrailName"])["Trail"]
    assert trail["TrailARN"] == outputs["TrailArn"]
    assert trail["S3KeyPrefix"] == "trail"
    assert trail["IsMultiRegionTrail"] is False
    assert trail["LogFileValidationEnabled"] is True
    selectors = ct.get_event_selectors(TrailName=outputs["TrailName"])["EventSelectors"]
    assert selectors == [{"ReadWriteType": "All", "IncludeManagementEvents": False,
                          "DataResources": [{"Type": "AWS::S3::Object", "Values": [
                              "arn:aws:s3:::watched/private/", "arn:aws:s3:::other/"]}]}]


def test_logging_state_follows_is_logging(cloud: tuple[LocalCloud, dict]) -> None:
    c, outputs = cloud
    ct = c.client("cloudtrail")
    assert ct.get_trail_status(Name=outputs["TrailName"])["IsLogging"] is True
    assert ct.get_trail_status(Name="quiet-trail")["IsLogging"] is False
    assert c.warnings == []  # the type is emulated, not a placeholder
