"""The stepfunctions_hello scenario for `localcloud demo`.

Start one execution of the Hello state machine, wait for it, and check that it succeeded, that
its output's trail is Hello, p1, p2, Goodbye, and that the history shows four successful Lambda
tasks (one function, four invocations).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

EXPECTED_TRAIL = ["Hello", "p1", "p2", "Goodbye"]
EXPECTED_INVOCATIONS = 4
# A Lambda task succeeds as TaskSucceeded with the lambda:invoke integration and as
# LambdaFunctionSucceeded with a plain function ARN as Resource; count either.
SUCCESS_EVENTS = frozenset({"TaskSucceeded", "LambdaFunctionSucceeded"})


class DemoContext(Protocol):
    """What `localcloud demo` hands to a scenario."""

    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...


def wait_for_execution(
    sfn: Any,
    execution_arn: str,
    *,
    timeout: float = 60.0,
    poll_interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """describe_execution until the status is no longer RUNNING; AssertionError on timeout."""
    deadline = clock() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        if clock() >= deadline:
            raise AssertionError(f"execution {execution_arn} still RUNNING after {timeout:g} s")
        sleep(poll_interval)


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every history event of the execution (all pages)."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token:
            return events
        kwargs["nextToken"] = token


def check_execution(described: dict[str, Any]) -> dict[str, Any]:
    """The execution's output, after asserting it SUCCEEDED with the expected trail."""
    status = described.get("status")
    if status != "SUCCEEDED":
        detail = described.get("error") or described.get("cause") or "no error reported"
        raise AssertionError(f"execution ended {status}, expected SUCCEEDED ({detail})")
    try:
        output = json.loads(described.get("output") or "null")
    except json.JSONDecodeError as err:
        raise AssertionError(f"execution output is not JSON: {described.get('output')!r}") from err
    trail = output.get("trail") if isinstance(output, dict) else None
    if trail != EXPECTED_TRAIL:
        raise AssertionError(f"output trail is {trail!r}, expected {EXPECTED_TRAIL!r}")
    return output


def check_history(events: list[dict[str, Any]]) -> int:
    """The number of successful Lambda tasks, after asserting there were four."""
    succeeded = sum(1 for event in events if event.get("type") in SUCCESS_EVENTS)
    if succeeded != EXPECTED_INVOCATIONS:
        raise AssertionError(
            f"history shows {succeeded} successful Lambda task(s), "
            f"expected {EXPECTED_INVOCATIONS} (Hello, p1, p2, Goodbye)"
        )
    return succeeded


def run(
    ctx: DemoContext,
    *,
    timeout: float = 60.0,
    poll_interval: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    arn = ctx.outputs.get("HelloStateMachineArn")
    if not arn:
        raise AssertionError("stack output HelloStateMachineArn is missing")
    sfn = ctx.client("stepfunctions")
    # A unique name: executions of a STANDARD machine are idempotent per name.
    name = f"demo-{uuid.uuid4()}"
    ctx.step(f"starting execution {name} of {arn}")
    started = sfn.start_execution(
        stateMachineArn=arn, name=name, input=json.dumps({"name": "localcloud"})
    )
    execution_arn = started["executionArn"]
    ctx.step(f"waiting for {execution_arn} (up to {timeout:g} s)")
    described = wait_for_execution(
        sfn, execution_arn, timeout=timeout, poll_interval=poll_interval, sleep=sleep, clock=clock
    )
    output = check_execution(described)
    ctx.step(f"execution SUCCEEDED; trail {' -> '.join(output['trail'])}: {output['greeting']}")
    succeeded = check_history(execution_history(sfn, execution_arn))
    ctx.step(f"history shows {succeeded} successful Lambda invocations of one function")
