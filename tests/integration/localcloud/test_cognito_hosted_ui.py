"""Cognito user pools deploy from a template (pool, app client, domain), and the domain's
hosted UI and OAuth endpoints answer over HTTP on the API port: outputs and function
environments name them through https://<domain>.auth.<region>.amazoncognito.com, rewritten."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import textwrap
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  MinLength: {Type: Number, Default: 10}
Resources:
  Pool:
    Type: AWS::Cognito::UserPool
    Properties:
      Policies:
        PasswordPolicy: {MinimumLength: !Ref MinLength, RequireSymbols: false}
  Domain:
    Type: AWS::Cognito::UserPoolDomain
    Properties: {UserPoolId: !Ref Pool, Domain: hosted-ui-test}
  Client:
    Type: AWS::Cognito::UserPoolClient
    Properties:
      UserPoolId: !Ref Pool
      GenerateSecret: true
      AllowedOAuthFlowsUserPoolClient: true
      AllowedOAuthFlows: [code]
      AllowedOAuthScopes: [openid]
      CallbackURLs: [http://127.0.0.1:9/cb]
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.11
      Environment:
        Variables:
          AUTH_URL: !Sub https://${Domain}.auth.${AWS::Region}.amazoncognito.com
Outputs:
  PoolId: {Value: !Ref Pool}
  PoolArn: {Value: !GetAtt Pool.Arn}
  ProviderUrl: {Value: !GetAtt Pool.ProviderURL}
  ClientId: {Value: !Ref Client}
  HostedUi: {Value: !Sub "https://${Domain}.auth.${AWS::Region}.amazoncognito.com"}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_hosted_ui_over_http(tmp_path: Path) -> None:
    root = tmp_path / "hosted_ui_app"
    (root / "fn").mkdir(parents=True)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    (root / "fn" / "app.py").write_text(
        "import os\n\ndef handler(event, context):\n    return os.environ['AUTH_URL']\n")
    port = _free_port()
    with LocalCloud(aws_port=0, api_port=port, quiet=True, log=lambda *_: None) as cloud:
        cloud.deploy(template=root / "template.yaml")
        cloud.start_api()
        assert cloud.warnings == []
        out = cloud.outputs()["hosted_ui_app"]
        base = f"http://127.0.0.1:{port}/_localcloud/cognito/hosted-ui-test"
        assert out["HostedUi"] == base
        assert out["PoolArn"].endswith(f":userpool/{out['PoolId']}")
        assert out["ProviderUrl"] == f"https://cognito-idp.us-east-1.amazonaws.com/{out['PoolId']}"
        result = cloud.invoke(cloud.find_function("Reader").name, {})
        assert json.loads(result.payload) == base
        idp = cloud.client("cognito-idp")
        pool = idp.describe_user_pool(UserPoolId=out["PoolId"])["UserPool"]
        assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] == 10
        client = idp.describe_user_pool_client(UserPoolId=out["PoolId"],
                                               ClientId=out["ClientId"])["UserPoolClient"]
        idp.admin_create_user(UserPoolId=out["PoolId"], Username="dora",
                              MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=out["PoolId"], Username="dora",
                                    Password="Long-Enough-1", Permanent=True)

        verifier = "x" * 64
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        web = requests.Session()
        params = {"response_type": "code", "client_id": client["ClientId"],
                  "redirect_uri": "http://127.0.0.1:9/cb", "state": "s",
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        login = web.get(f"{base}/oauth2/authorize", params=params, timeout=30)
        assert login.status_code == 200 and "signInFormUsername" in login.text
        done = web.post(login.url, data={"username": "dora", "password": "Long-Enough-1"},
                        allow_redirects=False, timeout=30)
        assert done.status_code == 302
        query = parse_qs(urlsplit(done.headers["Location"]).query)
        token = requests.post(f"{base}/oauth2/token", auth=(client["ClientId"],
                                                            client["ClientSecret"]),
                              data={"grant_type": "authorization_code", "code": query["code"][0],
                                    "redirect_uri": "http://127.0.0.1:9/cb",
                                    "code_verifier": verifier}, timeout=30)
        assert token.status_code == 200, token.text
        tokens = token.json()
        keys = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
        claims = jwt.decode(tokens["id_token"],
                            keys.get_signing_key_from_jwt(tokens["id_token"]).key,
                            algorithms=["RS256"], audience=client["ClientId"],
                            issuer=out["ProviderUrl"])
        assert claims["cognito:username"] == "dora"
        assert idp.get_user(AccessToken=tokens["access_token"])["Username"] == "dora"
        info = requests.get(f"{base}/oauth2/userInfo", timeout=30,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.json()["username"] == "dora"
