"""SAM templates transformed by samtranslator, with local code folders kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from localcloud import templates

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: code/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          STAGE: !Ref Stage
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
            Input: '{"a": 1}'
"""


@pytest.fixture
def sam_dir(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text("def handler(e, c):\n    return e\n")
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return tmp_path


def test_transform_gives_cloudformation_with_the_local_code_folder(sam_dir: Path) -> None:
    cache = sam_dir / "cache"
    out = templates.transform(sam_dir / "template.yaml", {}, cache)
    resources = out["Resources"]
    fn = resources["Fn"]
    assert fn["Type"] == "AWS::Lambda::Function"
    code = fn["Properties"]["Code"]
    assert templates.local_path_of(code["S3Key"]) == (sam_dir / "code").resolve()
    assert fn["Properties"]["Environment"]["Variables"]["STAGE"] == {"Ref": "Stage"}
    assert resources["FnRole"]["Type"] == "AWS::IAM::Role"
    rule = resources["FnTick"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Properties"]["Targets"][0]["Input"] == '{"a": 1}'
    assert "Transform" not in out
    cached = list(cache.glob("*.json"))
    assert len(cached) == 1  # the second call reads it
    assert templates.transform(sam_dir / "template.yaml", {}, cache) == out


def test_missing_code_folder_is_a_template_error(sam_dir: Path) -> None:
    (sam_dir / "template.yaml").write_text(TEMPLATE.replace("code/", "missing/"))
    with pytest.raises(templates.TemplateError, match="missing"):
        templates.transform(sam_dir / "template.yaml", {}, None)


def test_invalid_sam_is_a_template_error_naming_the_file(sam_dir: Path) -> None:
    (sam_dir / "template.yaml").write_text(TEMPLATE.replace("Schedule: rate", "Schedulx: rate"))
    with pytest.raises(templates.TemplateError, match="template.yaml"):
        templates.transform(sam_dir / "template.yaml", {}, None)


def test_plain_cloudformation_is_returned_as_is(tmp_path: Path) -> None:
    path = tmp_path / "plain.yaml"
    path.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n")
    assert templates.transform(path, {}, None) == {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}


def test_local_path_of() -> None:
    assert templates.local_path_of("s3://localcloud-code/abs/dir") == Path("/abs/dir")
    assert templates.local_path_of(
        "https://localcloud-code.s3.amazonaws.com/abs/t.yaml") == Path("/abs/t.yaml")
    assert templates.local_path_of("s3://other-bucket/key") is None
