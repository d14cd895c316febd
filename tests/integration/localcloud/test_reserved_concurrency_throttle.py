"""Reserved concurrency on the local cloud: the API answers 429 beyond the reservation (the
handler never runs), and Put/Get/DeleteFunctionConcurrency through the Lambda API (the kill
switch, 0, included) take effect on the running workers at once."""

from __future__ import annotations

import socket
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  SlowFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: app.handler
      CodeUri: fn/
      Timeout: 10
      ReservedConcurrentExecutions: 2
      Events:
        Get:
          Type: HttpApi
          Properties:
            Path: /slow
            Method: GET
Outputs:
  Url:
    Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/
  Name:
    Value: !Ref SlowFunction
"""
HANDLER = """
import time

def handler(event, context):
    time.sleep(float((event.get("queryStringParameters") or {}).get("s", "0")))
    return {"statusCode": 200, "body": "ok"}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, str, str]]:
    root = tmp_path_factory.mktemp("throttle") / "throttle_app"
    (root / "fn").mkdir(parents=True)
    (root / "template.yaml").write_text(textwrap.dedent(TEMPLATE))
    (root / "fn" / "app.py").write_text(textwrap.dedent(HANDLER))
    with LocalCloud(aws_port=0, api_port=free_port(), quiet=True, log=lambda *_: None) as c:
        c.deploy(template=Path(root / "template.yaml"))
        c.start_api()
        out = c.outputs()["throttle_app"]
        yield c, out["Url"].rstrip("/"), out["Name"]


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def burst(url: str, n: int) -> list[int]:
    start = threading.Barrier(n)

    def one(_: int) -> int:
        start.wait()
        return get(url)

    with ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(one, range(n)))


def test_beyond_the_reservation_the_api_answers_429(app: tuple[LocalCloud, str, str]) -> None:
    cloud, url, name = app
    get(f"{url}/slow")  # one warm worker, so the burst is not slowed by a start
    statuses = burst(f"{url}/slow?s=1.5", 6)
    assert statuses.count(200) == 2 and statuses.count(429) == 4, statuses
    lam = cloud.client("lambda")
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 2


def test_kill_switch_and_clear_through_the_lambda_api(app: tuple[LocalCloud, str, str]) -> None:
    cloud, url, name = app
    lam = cloud.client("lambda")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    assert get(f"{url}/slow") == 429
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    lam.put_function_concurrency(FunctionName=arn, ReservedConcurrentExecutions=4)
    statuses = burst(f"{url}/slow?s=1.5", 6)
    assert statuses.count(200) == 4 and statuses.count(429) == 2, statuses
    lam.delete_function_concurrency(FunctionName=name)
    assert lam.get_function_concurrency(FunctionName=name).get(
        "ReservedConcurrentExecutions") is None
    assert burst(f"{url}/slow?s=0.5", 6) == [200] * 6
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
