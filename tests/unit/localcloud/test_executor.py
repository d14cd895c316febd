"""The local Lambda runtime: warm worker processes running real handler modules."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud.runtime.executor import Executor, FunctionSpec, TooManyRequests

HANDLERS = '''
import json, os, sys, time

import helper_from_layer


def echo(event, context):
    print("log line from the handler")
    return {"event": event, "name": context.function_name, "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb, "requestId": context.aws_request_id,
            "remaining": context.get_remaining_time_in_millis(), "pid": os.getpid(),
            "greeting": os.environ.get("GREETING"), "layer": helper_from_layer.VALUE,
            "region": os.environ.get("AWS_REGION"),
            "fn_env": os.environ["AWS_LAMBDA_FUNCTION_NAME"]}


class Oops(Exception):
    pass


def fail(event, context):
    raise Oops("it went wrong")


def sleep(event, context):
    time.sleep(event["seconds"])
    return {"pid": os.getpid()}


def not_json(event, context):
    return {"when": object()}


def hog(event, context):
    block = b"x" * (event["mb"] << 20)
    time.sleep(event["hold"])
    return len(block)
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "app.py").write_text(HANDLERS)
    (tmp_path / "code" / "broken.py").write_text("import no_such_module_anywhere\n")
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "helper_from_layer.py").write_text("VALUE = 'from the layer'\n")
    return tmp_path


LOGS: list[tuple[str, str]] = []


def logged(name: str, text: str, timeout: float = 5.0) -> bool:
    """Whether a worker of `name` wrote a line containing `text` (waits for the log pump)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(n == name and text in line for n, line in list(LOGS)):
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def executor() -> Iterator[Executor]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8",
           "AWS_REGION": "eu-west-1"}
    LOGS.clear()
    ex = Executor(env, lambda name, line: LOGS.append((name, line)))
    yield ex
    ex.close()


def spec(code: Path, handler: str, **kw: object) -> FunctionSpec:
    name = kw.pop("name", handler.replace(".", "-"))
    arn = f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
    return FunctionSpec(name=str(name), arn=arn, handler=handler, code_dir=code / "code",
                        layers=[code / "layer"], **kw)  # type: ignore[arg-type]


def test_payload_context_environment_and_layers(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.echo", environment={"GREETING": "hi"}, memory_mb=256,
                           timeout=5))
    result = executor.invoke("app-echo", {"a": [1, 2]}, request_id="req-1")
    assert result.ok and result.error is None
    body = json.loads(result.payload)
    assert body["event"] == {"a": [1, 2]}
    assert (body["name"], body["fn_env"]) == ("app-echo", "app-echo")
    assert body["arn"].endswith(":function:app-echo")
    assert (body["memory"], body["requestId"]) == (256, "req-1")
    assert 0 < body["remaining"] <= 5000
    assert (body["greeting"], body["layer"], body["region"]) == ("hi", "from the layer",
                                                                 "eu-west-1")
    # Printed lines reach the log callback (InvokeResult.logs may miss them: see the report).
    assert logged("app-echo", "log line from the handler")
    assert logged("app-echo", "REPORT RequestId: req-1")
    again = json.loads(executor.invoke("app-echo", {}).payload)
    assert again["pid"] == body["pid"]  # the worker stays warm


def test_raised_exception_is_a_lambda_error(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.fail"))
    result = executor.invoke("app-fail", {}, request_id="req-2")
    assert not result.ok
    assert result.error is not None
    assert result.error["errorType"] == "Oops"
    assert result.error["errorMessage"] == "it went wrong"
    assert result.error["requestId"] == "req-2"
    assert any("raise Oops" in line for line in result.error["stackTrace"])
    assert logged("app-fail", "Traceback")


def test_timeout_kills_and_replaces_the_worker(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.sleep", timeout=0.5))
    first = executor.invoke("app-sleep", {"seconds": 0})
    assert first.ok
    started = time.monotonic()
    timed_out = executor.invoke("app-sleep", {"seconds": 10})
    assert time.monotonic() - started < 3
    assert timed_out.error is not None
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 0.50 seconds" in timed_out.error["errorMessage"]
    assert "Sandbox.Timedout" in timed_out.payload  # what Invoke returns as the payload
    after = executor.invoke("app-sleep", {"seconds": 0})
    assert after.ok
    assert json.loads(after.payload)["pid"] != json.loads(first.payload)["pid"]


def test_unserialisable_return_is_a_marshal_error(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.not_json"))
    result = executor.invoke("app-not_json", {})
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.MarshalError"
    assert "Unable to marshal response" in result.error["errorMessage"]


def test_import_error_is_reported_on_every_invocation(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "broken.handler"))
    for _ in range(2):
        result = executor.invoke("broken-handler", {})
        assert result.error is not None
        assert result.error["errorType"] == "Runtime.ImportModuleError"
        assert "no_such_module_anywhere" in result.error["errorMessage"]


def test_missing_handler_function_is_reported(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.nope"))
    result = executor.invoke("app-nope", {})
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.HandlerNotFound"


def test_memory_above_memory_size_is_out_of_memory(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.hog", memory_mb=128, timeout=10))
    started = time.monotonic()
    result = executor.invoke("app-hog", {"mb": 300, "hold": 3})
    assert time.monotonic() - started < 3  # killed when it crossed 128 MB, not after the sleep
    assert result.error is not None
    assert result.error["errorType"] == "Runtime.OutOfMemory"
    assert "128 MB" in result.error["errorMessage"]
    small = executor.invoke("app-hog", {"mb": 1, "hold": 0})  # a new worker serves it
    assert small.ok and json.loads(small.payload) == 1 << 20


def test_reserved_concurrency_zero_throttles(executor: Executor, code: Path) -> None:
    executor.register(spec(code, "app.echo", reserved_concurrency=0))
    with pytest.raises(TooManyRequests):
        executor.invoke("app-echo", {})


def test_unknown_function_is_a_key_error(executor: Executor) -> None:
    with pytest.raises(KeyError):
        executor.invoke("nobody", {})
