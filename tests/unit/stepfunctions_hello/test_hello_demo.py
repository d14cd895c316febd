from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Hello"
GOOD_OUTPUT = {"greeting": "Goodbye, localcloud!", "trail": ["Hello", "p1", "p2", "Goodbye"]}


class FakeSfn:
    """Just enough of a Step Functions client for the scenario."""

    def __init__(self, statuses, output=GOOD_OUTPUT, succeeded_events=4, pages=2):
        self.statuses = list(statuses)
        self.output = output
        self.history = [{"type": "TaskSucceeded"}] * succeeded_events + [
            {"type": "TaskScheduled"},
            {"type": "ExecutionSucceeded"},
        ]
        self.pages = pages
        self.started = []

    def start_execution(self, **kwargs):
        self.started.append(kwargs)
        return {"executionArn": f"{ARN}:{kwargs['name']}"}

    def describe_execution(self, executionArn):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        described = {"executionArn": executionArn, "status": status}
        if status == "SUCCEEDED":
            described["output"] = json.dumps(self.output)
        if status == "FAILED":
            described.update(error="StepError", cause="Unknown step")
        return described

    def get_execution_history(self, executionArn, maxResults, nextToken=None):
        size = -(-len(self.history) // self.pages)
        start = int(nextToken or 0)
        page = {"events": self.history[start : start + size]}
        if start + size < len(self.history):
            page["nextToken"] = str(start + size)
        return page


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


@pytest.fixture(scope="module")
def demo(load_module):
    return load_module("functions/stepfunctions_hello/demo.py", "stepfunctions_hello_demo")


def _ctx(sfn, outputs=None):
    steps = []
    ctx = SimpleNamespace(
        outputs={"HelloStateMachineArn": ARN} if outputs is None else outputs,
        client=lambda name: sfn if name == "stepfunctions" else pytest.fail(name),
        step=steps.append,
        steps=steps,
    )
    return ctx


def _run(demo, sfn, outputs=None):
    clock = FakeClock()
    ctx = _ctx(sfn, outputs)
    demo.run(ctx, timeout=60, poll_interval=0.5, sleep=clock.sleep, clock=clock)
    return ctx


def test_scenario_passes(demo):
    sfn = FakeSfn(["RUNNING", "RUNNING", "SUCCEEDED"])
    ctx = _run(demo, sfn)
    (started,) = sfn.started
    assert started["stateMachineArn"] == ARN
    assert started["name"].startswith("demo-") and len(started["name"]) > 20
    assert json.loads(started["input"]) == {"name": "localcloud"}
    assert any("Hello -> p1 -> p2 -> Goodbye" in step for step in ctx.steps)
    assert "4 successful" in ctx.steps[-1]


def test_failed_execution(demo):
    with pytest.raises(AssertionError, match="ended FAILED, expected SUCCEEDED \\(StepError\\)"):
        _run(demo, FakeSfn(["FAILED"]))


def test_timeout(demo):
    with pytest.raises(AssertionError, match="still RUNNING after 60 s"):
        _run(demo, FakeSfn(["RUNNING"]))


def test_wrong_trail(demo):
    with pytest.raises(AssertionError, match="trail is \\['Hello', 'Goodbye'\\]"):
        _run(demo, FakeSfn(["SUCCEEDED"], output={"trail": ["Hello", "Goodbye"]}))


def test_wrong_invocation_count(demo):
    with pytest.raises(AssertionError, match="3 successful Lambda task"):
        _run(demo, FakeSfn(["SUCCEEDED"], succeeded_events=3))


def test_missing_output(demo):
    with pytest.raises(AssertionError, match="HelloStateMachineArn is missing"):
        _run(demo, FakeSfn(["SUCCEEDED"]), outputs={})


def test_lambda_function_events_count_too(demo):
    events = [{"type": "LambdaFunctionSucceeded"}] * 2 + [{"type": "TaskSucceeded"}] * 2
    assert demo.check_history(events) == 4
