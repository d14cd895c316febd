"""The localcloud CLI as a user runs it: up with a template, fire a schedule, errors."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = ROOT / "tests" / "fixtures" / "platform_app" / "template.yaml"
CLI = [sys.executable, "-m", "localcloud.cli"]

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


@pytest.fixture(scope="module")
def up() -> Iterator[dict[str, int]]:
    aws_port, api_port = _free_port(), _free_port()
    proc = subprocess.Popen(CLI + ["up", "-t", str(FIXTURE), "--aws-port", str(aws_port),
                                   "--api-port", str(api_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    banner = []
    for line in proc.stdout:
        banner.append(line)
        if line.startswith("Ctrl-C"):
            break
    else:
        pytest.fail(f"localcloud up exited with {proc.wait()}: {''.join(banner)}")
    yield {"aws_port": aws_port, "api_port": api_port, "banner": "".join(banner)}
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0


def test_up_lists_schedules_and_apis(up: dict) -> None:
    assert "platform_app/ScheduleFunctionNightly" in up["banner"]
    assert "rate(1 day)" in up["banner"]
    assert f"http://127.0.0.1:{up['api_port']}/platform_app" in up["banner"]


def test_fire_delivers_the_schedule_input_now(up: dict) -> None:
    out = _cli("fire", "platform_app/ScheduleFunctionNightly", "--aws-port", str(up["aws_port"]))
    assert out.returncode == 0, out.stderr
    fired = json.loads(out.stdout)
    assert fired["logicalId"] == "ScheduleFunctionNightly"
    outputs = json.loads(_cli("outputs", "--aws-port", str(up["aws_port"])).stdout)
    table = outputs["platform_app"]["EventsTableName"]
    ddb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{up['aws_port']}",
                       region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    deadline = time.time() + 20
    payloads: list = []
    while time.time() < deadline and not payloads:
        items = ddb.query(TableName=table, KeyConditionExpression="#s = :s",
                          ExpressionAttributeNames={"#s": "source"},
                          ExpressionAttributeValues={":s": {"S": "schedule"}})["Items"]
        payloads = [json.loads(i["payload"]["S"])["event"] for i in items]
        time.sleep(0.1)
    assert {"job": "nightly", "items": [1, 2]} in payloads


def test_fire_unknown_schedule_is_a_one_line_error(up: dict) -> None:
    out = _cli("fire", "platform_app/NoSuchRule", "--aws-port", str(up["aws_port"]))
    assert out.returncode == 2
    assert "no schedule 'platform_app/NoSuchRule'" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_control_endpoint_lists_schedules(up: dict) -> None:
    url = f"http://127.0.0.1:{up['api_port']}/_localcloud/schedules"
    with urllib.request.urlopen(url, timeout=10) as resp:
        schedules = json.loads(resp.read())
    expressions = {s["logicalId"]: s["expression"] for s in schedules}
    assert expressions["ScheduleFunctionNightly"] == "rate(1 day)"
    assert expressions["ScheduleFunctionHourly"] == "cron(0 * * * ? *)"


def test_fire_without_up_fails_clearly() -> None:
    port = _free_port()
    out = _cli("fire", "x/y", "--aws-port", str(port))
    assert out.returncode == 2
    assert out.stderr.strip() == f"localcloud: no `localcloud up` on port {port}"


def test_broken_template_is_reported_with_file_and_resource(tmp_path: Path) -> None:
    broken = tmp_path / "app" / "template.yaml"
    broken.parent.mkdir()
    broken.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: nowhere/\n"
        "      Handler: app.handler\n"
        "      Runtime: python3.11\n")
    out = _cli("invoke", "Fn", "-t", str(broken))
    assert out.returncode == 2
    assert "deploy failed" in out.stderr and "Fn.CodeUri" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_handler_module_is_an_import_error(tmp_path: Path) -> None:
    app = tmp_path / "app"
    (app / "fn").mkdir(parents=True)
    (app / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  Fn:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties:\n"
        "      CodeUri: fn/\n"
        "      Handler: missing.handler\n"
        "      Runtime: python3.11\n")
    out = _cli("invoke", "Fn", "-t", str(app / "template.yaml"))
    assert out.returncode == 1
    assert json.loads(out.stdout)["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'missing'" in out.stderr


def test_start_api_serves_the_template_routes_without_an_aws_port_of_its_own() -> None:
    port = _free_port()
    proc = subprocess.Popen(CLI + ["start-api", "-t", str(FIXTURE), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    assert proc.stdout is not None
    try:
        banner = ""
        for line in proc.stdout:
            banner += line
            if line.startswith("Ctrl-C"):
                break
        assert f"http://127.0.0.1:{port}/platform_app" in banner
        # The REST API keeps its stage in the path, as API Gateway does.
        url = f"http://127.0.0.1:{port}/platform_app/PlatformApi/test/items/a1?color=red"
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = json.loads(resp.read())
        assert (body["resource"], body["pathParameters"]) == ("/items/{id}", {"id": "a1"})
        assert "schedules" not in banner  # start-api serves APIs only, no event delivery
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
