"""Deploying some apps of a root template (`deploy(apps=...)`, `localcloud demo <app>`) skips
the root outputs of the apps left out instead of failing on them."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

CHILD = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /test/{name}
Outputs:
  LogGroupName:
    Value: !Ref Logs
"""

ROOT = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Alpha:
    Type: AWS::Serverless::Application
    Properties:
      Location: stacks/alpha.yaml
  Beta:
    Type: AWS::Serverless::Application
    Properties:
      Location: stacks/beta.yaml
Outputs:
  AlphaLogs:
    Value: !GetAtt Alpha.Outputs.LogGroupName
  BetaLogs:
    Value: !GetAtt Beta.Outputs.LogGroupName
  Constant:
    Value: !Sub "${AWS::Region}-collection"
"""


def test_outputs_of_apps_left_out_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    for name in ("alpha", "beta"):
        (tmp_path / "stacks" / f"{name}.yaml").write_text(CHILD.format(name=name))
    template = tmp_path / "template.yaml"
    template.write_text(ROOT)
    with LocalCloud(aws_port=0, quiet=True) as cloud:
        record = cloud.deploy(template=template, apps={"alpha"})
        assert record.outputs == {"AlphaLogs": "/test/alpha", "Constant": "us-east-1-collection"}
        outputs = cloud.outputs()
        assert outputs["alpha"] == {"LogGroupName": "/test/alpha"}
        assert "beta" not in outputs
    with LocalCloud(aws_port=0, quiet=True) as cloud:
        record = cloud.deploy(template=template)
        assert record.outputs["BetaLogs"] == "/test/beta"
