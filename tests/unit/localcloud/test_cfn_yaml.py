"""CloudFormation YAML: short-form intrinsic tags become their long forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud import cfn_yaml

TEXT = """
AWSTemplateFormatVersion: 2010-09-09
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Condition: IsProd
    Properties:
      Name: !Sub ${AWS::StackName}-fn
      Arn: !GetAtt Queue.Arn
      Nested: !GetAtt Child.Outputs.Table
      Listed: !GetAtt [Queue, QueueName]
      Level: !If [IsProd, ERROR, ALL]
      Joined: !Join [",", [a, !Ref Stage]]
      Picked: !Select [0, !GetAZs ""]
      Parts: !Split ["/", !Ref Path]
      Mapped: !FindInMap [Sizes, !Ref Stage, Memory]
      Both: !And [!Condition IsProd, !Not [!Condition IsDev]]
      Sub2: !Sub
        - ${X}-y
        - X: !ImportValue shared
      Encoded: !Base64 text
"""


def test_short_forms_become_long_forms() -> None:
    tpl = cfn_yaml.loads(TEXT)
    assert tpl["AWSTemplateFormatVersion"] == "2010-09-09"  # a string, not a date
    assert tpl["Conditions"]["IsProd"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    props = tpl["Resources"]["Fn"]["Properties"]
    assert props["Name"] == {"Fn::Sub": "${AWS::StackName}-fn"}
    assert props["Arn"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert props["Nested"] == {"Fn::GetAtt": ["Child", "Outputs.Table"]}
    assert props["Listed"] == {"Fn::GetAtt": ["Queue", "QueueName"]}
    assert props["Level"] == {"Fn::If": ["IsProd", "ERROR", "ALL"]}
    assert props["Joined"] == {"Fn::Join": [",", ["a", {"Ref": "Stage"}]]}
    assert props["Picked"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert props["Parts"] == {"Fn::Split": ["/", {"Ref": "Path"}]}
    assert props["Mapped"] == {"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}
    assert props["Both"] == {"Fn::And": [{"Condition": "IsProd"},
                                         {"Fn::Not": [{"Condition": "IsDev"}]}]}
    assert props["Sub2"] == {"Fn::Sub": ["${X}-y", {"X": {"Fn::ImportValue": "shared"}}]}
    assert props["Encoded"] == {"Fn::Base64": "text"}


def test_json_templates_and_files_load(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}')
    assert cfn_yaml.load(path) == {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}


def test_a_template_must_be_a_mapping() -> None:
    with pytest.raises(ValueError, match="mapping"):
        cfn_yaml.loads("- just\n- a list\n")
