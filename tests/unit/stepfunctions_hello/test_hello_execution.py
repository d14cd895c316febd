"""The real definition and handler run by moto's ASL interpreter, driven by the demo scenario.

Lambda invocations are routed to the handler in-process by replacing moto's one Docker call
(LambdaFunction._invoke_lambda, pinned moto version). Once localcloud runs the stacks, the
integration test through `localcloud demo` covers the same path with the template's wiring.
"""

from __future__ import annotations

import io
import json
import traceback
import zipfile
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

moto = pytest.importorskip("moto")
lambda_models = pytest.importorskip("moto.awslambda.models")

ROOT = Path(__file__).resolve().parents[3]
DEFINITION = ROOT / "statemachines" / "stepfunctions_hello.asl.json"


@pytest.fixture(scope="module")
def app(load_module):
    return load_module("functions/stepfunctions_hello/hello/app.py", "stepfunctions_hello_app")


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/stepfunctions_hello/demo.py", "stepfunctions_hello_demo")


@pytest.fixture
def invocations(app, monkeypatch):
    if not hasattr(lambda_models.LambdaFunction, "_invoke_lambda"):
        pytest.skip("moto internal LambdaFunction._invoke_lambda is gone")
    events: list[dict] = []

    def invoke_in_process(self, event=None):
        payload = json.loads(event) if isinstance(event, (str, bytes)) else event
        events.append(payload)
        context = SimpleNamespace(
            function_name=self.function_name,
            memory_limit_in_mb=256,
            invoked_function_arn=self.function_arn,
            aws_request_id=f"request-{len(events)}",
        )
        try:
            return json.dumps(app.handler(payload, context)), False, ""
        except Exception as err:  # a function error, reported the way Lambda reports it
            body = {"errorMessage": str(err), "errorType": type(err).__name__}
            return json.dumps(body), True, traceback.format_exc()

    monkeypatch.setattr(lambda_models.LambdaFunction, "_invoke_lambda", invoke_in_process)
    return events


def _deploy() -> str:
    """Create the function and the state machine, substituting HelloFunctionArn."""
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="hello", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    function_arn = boto3.client("lambda").create_function(
        FunctionName="HelloFunction",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    definition = DEFINITION.read_text().replace("${HelloFunctionArn}", function_arn)
    return boto3.client("stepfunctions").create_state_machine(
        name="HelloStateMachine", definition=definition, roleArn=role
    )["stateMachineArn"]


def test_demo_scenario_passes_against_moto(demo, invocations):
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        steps: list[str] = []
        ctx = SimpleNamespace(
            outputs={"HelloStateMachineArn": _deploy()},
            client=boto3.client,
            step=steps.append,
        )
        demo.run(ctx, timeout=30, poll_interval=0.05)

    steps_run = [event["step"] for event in invocations]
    # The branches run concurrently, so p1 and p2 may be invoked in either order.
    assert (steps_run[0], sorted(steps_run[1:3]), steps_run[3:]) == (
        "Hello",
        ["p1", "p2"],
        ["Goodbye"],
    )
    assert isinstance(invocations[-1]["input"], list)
    assert "4 successful" in steps[-1]
