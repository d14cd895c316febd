from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "stepfunctions_hello"


@dataclass
class LambdaContext:
    function_name: str = "HelloFunction"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:HelloFunction"
    aws_request_id: str = "00000000-0000-0000-0000-000000000001"


@pytest.fixture(scope="module")
def app(load_module):
    return load_module("functions/stepfunctions_hello/hello/app.py", "stepfunctions_hello_app")


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_hello_greets_name_and_starts_trail(app):
    assert app.hello({"name": "Ada"}) == {
        "name": "Ada",
        "greeting": "Hello, Ada!",
        "trail": ["Hello"],
    }


@pytest.mark.parametrize("data", [None, {}, {"name": ""}, {"name": 3}, ["x"]])
def test_hello_defaults_the_name(app, data):
    assert app.hello(data)["name"] == "World"


def test_branch_extends_the_trail(app):
    result = app.branch("p2", app.hello({"name": "Ada"}))
    assert result["trail"] == ["Hello", "p2"]
    assert result["greeting"] == "Hello from p2, Ada!"


@pytest.mark.parametrize("bad", [None, [], {"name": "x"}, {"trail": []}])
def test_branch_rejects_other_input(app, bad):
    with pytest.raises(app.StepError, match="p1 expects"):
        app.branch("p1", bad)


def test_goodbye_joins_the_parallel_list(app):
    first = app.hello({"name": "Ada"})
    result = app.goodbye([app.branch("p1", first), app.branch("p2", first)])
    assert result["trail"] == ["Hello", "p1", "p2", "Goodbye"]
    assert result["greeting"] == "Goodbye, Ada!"
    assert result["branches"] == ["Hello from p1, Ada!", "Hello from p2, Ada!"]


@pytest.mark.parametrize("bad", [None, [], {"name": "Ada", "trail": ["Hello"]}, [1, 2]])
def test_goodbye_needs_the_list_of_branch_results(app, bad):
    with pytest.raises(app.StepError):
        app.goodbye(bad)


def test_run_step_dispatches_and_rejects_unknown(app):
    assert app.run_step("Hello", {})["trail"] == ["Hello"]
    with pytest.raises(app.StepError, match="Unknown step 'Nope'"):
        app.run_step("Nope", {})


def test_sample_events_chain_through_the_handler(app):
    context = LambdaContext()
    hello = app.handler(_event("hello.json"), context)
    assert hello["trail"] == ["Hello"]
    p1 = app.handler(_event("p1.json"), context)
    p2 = app.handler(_event("p2.json"), context)
    assert (p1["trail"], p2["trail"]) == (["Hello", "p1"], ["Hello", "p2"])
    goodbye = app.handler(_event("goodbye.json"), context)
    assert goodbye["trail"] == ["Hello", "p1", "p2", "Goodbye"]
    # The sample events are what the states send for the execution input in execution.json.
    execution = json.loads((EVENTS / "execution.json").read_text())
    assert _event("hello.json")["input"] == execution
    assert _event("p1.json")["input"] == hello
    assert _event("goodbye.json")["input"] == [p1, p2]


def test_handler_rejects_an_event_without_step(app):
    with pytest.raises(app.StepError, match="must be"):
        app.handler({"input": {}}, LambdaContext())
