"""stepfunctions_hello end to end through localcloud: template -> local cloud -> execution.

These tests drive the real CLI (`localcloud invoke`, `up`, `outputs`, `demo`) in subprocesses,
as a user would, and the embedded AWS with boto3.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "stepfunctions_hello"
CLI = [sys.executable, "-m", "localcloud.cli"]

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=ROOT,
                          input=stdin, timeout=120)


def test_invoke_prints_the_handler_json() -> None:
    out = _cli("invoke", "HelloFunction", "--event", str(EVENTS / "hello.json"))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"name": "World", "greeting": "Hello, World!",
                                      "trail": ["Hello"]}
    assert "REPORT RequestId:" in out.stderr  # logs go to stderr, as with sam local invoke


def test_invoke_nested_name_and_event_on_stdin() -> None:
    event = json.dumps({"step": "Hello", "input": {"name": "Ada"}})
    out = _cli("invoke", "stepfunctions_hello/HelloFunction", "--event", "-", stdin=event)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["greeting"] == "Hello, Ada!"


def test_invoke_function_error_exits_non_zero_with_traceback() -> None:
    out = _cli("invoke", "HelloFunction", "--event", "-", stdin='{"step": "Nope"}')
    assert out.returncode == 1
    error = json.loads(out.stdout)
    assert error["errorType"] == "StepError"
    assert "Unknown step 'Nope'" in error["errorMessage"]
    assert "Traceback" in out.stderr


def test_unknown_function_and_malformed_event_are_one_line_errors(tmp_path: Path) -> None:
    out = _cli("invoke", "NoSuchFunction")
    assert out.returncode == 2
    assert out.stderr.strip() == "localcloud: no function 'NoSuchFunction' in stacks/*.yaml"
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    out = _cli("invoke", "HelloFunction", "--event", str(bad))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "is not valid JSON" in out.stderr


def test_demo_runs_the_scenario() -> None:
    out = _cli("demo", "stepfunctions_hello")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[stepfunctions_hello] PASSED" in out.stdout
    assert "1/1 scenarios passed" in out.stdout


def test_demo_of_unknown_app_fails() -> None:
    out = _cli("demo", "no_such_app")
    assert out.returncode != 0
    assert "no demo for no_such_app" in out.stdout + out.stderr


@pytest.fixture(scope="module")
def up() -> dict[str, int]:
    aws_port, api_port = _free_port(), _free_port()
    proc = subprocess.Popen(CLI + ["up", "--aws-port", str(aws_port), "--api-port",
                                   str(api_port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("localcloud ready"):
            break
    else:
        pytest.fail(f"localcloud up exited with {proc.wait()}")
    yield {"aws_port": aws_port, "api_port": api_port, "pid": proc.pid}
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=30) == 0
    assert "localcloud stopped." in rest


def test_up_outputs_and_an_execution_with_four_invocations(up: dict[str, int]) -> None:
    out = _cli("outputs", "--aws-port", str(up["aws_port"]))
    assert out.returncode == 0, out.stderr
    outputs = json.loads(out.stdout)
    arn = outputs["stepfunctions_hello"]["HelloStateMachineArn"]
    assert arn.startswith("arn:aws:states:us-east-1:123456789012:stateMachine:")

    endpoint = f"http://127.0.0.1:{up['aws_port']}"
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    execution = sfn.start_execution(stateMachineArn=arn,
                                    input=(EVENTS / "execution.json").read_text())
    deadline = time.time() + 60
    while (desc := sfn.describe_execution(executionArn=execution["executionArn"]))[
            "status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.1)
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"])["trail"] == ["Hello", "p1", "p2", "Goodbye"]
    history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    succeeded = [e for e in history if e["type"] == "TaskSucceeded"]
    assert len(succeeded) == 4

    # An unnamed second start gets its own name (AWS generates one).
    second = sfn.start_execution(stateMachineArn=arn, input="{}")
    assert second["executionArn"] != execution["executionArn"]


def test_invoke_uses_the_running_up(up: dict[str, int]) -> None:
    env = dict(os.environ)
    out = subprocess.run(CLI + ["invoke", "HelloFunction", "--aws-port", str(up["aws_port"]),
                                "--event", str(EVENTS / "hello.json")],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["trail"] == ["Hello"]


def test_lambda_invoke_via_boto3_runs_the_real_handler(up: dict[str, int]) -> None:
    endpoint = f"http://127.0.0.1:{up['aws_port']}"
    lam = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="x", aws_secret_access_key="x")
    outputs = json.loads(_cli("outputs", "--aws-port", str(up["aws_port"])).stdout)
    name = outputs["stepfunctions_hello"]["HelloFunctionName"]
    resp = lam.invoke(FunctionName=name, Payload=(EVENTS / "p1.json").read_bytes())
    assert "FunctionError" not in resp
    assert json.loads(resp["Payload"].read())["trail"] == ["Hello", "p1"]
    resp = lam.invoke(FunctionName=name, Payload=b'{"step": "Goodbye", "input": []}')
    assert resp["FunctionError"] == "Unhandled"
    assert json.loads(resp["Payload"].read())["errorType"] == "StepError"
