"""AWS::SecretsManager::Secret deploys as CloudFormation creates it: a given SecretString, or
one generated (GenerateSecretString), alone or as one key of a JSON template."""

from __future__ import annotations

import json
import string
import textwrap
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Given:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: given/secret
      Description: a given value
      SecretString: '{"user": "app", "password": "p4ss"}'
  Generated:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"webhook_url": ""}'
        GenerateStringKey: signing_secret
        PasswordLength: 40
        ExcludePunctuation: true
  Plain:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        PasswordLength: 12
        ExcludeNumbers: true
        ExcludePunctuation: true
Outputs:
  Given: {Value: !Ref Given}
  Generated: {Value: !Ref Generated}
  Plain: {Value: !Ref Plain}
"""


def test_secrets_are_created_and_generated(tmp_path: Path) -> None:
    root = tmp_path / "secrets_app"
    root.mkdir()
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
        cloud.deploy(template=root / "template.yaml")
        assert cloud.warnings == []
        out = cloud.outputs()["secrets_app"]
        sm = cloud.client("secretsmanager")
        assert all(out[k].startswith("arn:aws:secretsmanager:") for k in out)
        given = sm.get_secret_value(SecretId=out["Given"])
        assert given["Name"] == "given/secret"
        assert json.loads(given["SecretString"]) == {"user": "app", "password": "p4ss"}
        generated = json.loads(sm.get_secret_value(SecretId=out["Generated"])["SecretString"])
        assert generated["webhook_url"] == "" and len(generated["signing_secret"]) == 40
        assert set(generated["signing_secret"]) <= set(string.ascii_letters + string.digits)
        plain = sm.get_secret_value(SecretId=out["Plain"])["SecretString"]
        assert len(plain) == 12 and plain.isalpha()
