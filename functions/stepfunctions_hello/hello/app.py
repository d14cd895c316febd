"""One function behind all four steps of the Hello state machine.

Each Task state sends {"step": <its name>, "input": <the state's input>}, so the handler knows
which step it runs without inspecting the data. Hello and the Parallel branches get one result
object; Goodbye gets the Parallel state's output, a list with one result per branch.
"""

from __future__ import annotations

from typing import Any

from common.observability import get_logger, get_tracer

logger = get_logger()
tracer = get_tracer()

BRANCH_STEPS = ("p1", "p2")
STEPS = ("Hello", *BRANCH_STEPS, "Goodbye")
DEFAULT_NAME = "World"


class StepError(ValueError):
    """The step's input is not what the state machine sends; the Task fails, no retry helps."""


def hello(data: Any) -> dict[str, Any]:
    """The first step: greet the execution input's `name` and start the trail."""
    name = data.get("name") if isinstance(data, dict) else None
    name = name if isinstance(name, str) and name.strip() else DEFAULT_NAME
    return {"name": name, "greeting": f"Hello, {name}!", "trail": ["Hello"]}


def branch(step: str, result: Any) -> dict[str, Any]:
    """A Parallel branch: add the branch's step to the trail of Hello's result."""
    _check_result(result, step)
    return {
        "name": result["name"],
        "greeting": f"Hello from {step}, {result['name']}!",
        "trail": [*result["trail"], step],
    }


def goodbye(results: Any) -> dict[str, Any]:
    """The last step: join the branches' trails (shared prefix once, then each branch's steps)."""
    if not isinstance(results, list) or not results:
        raise StepError("Goodbye expects the Parallel state's list of branch results")
    for result in results:
        _check_result(result, "Goodbye")
    trails = [result["trail"] for result in results]
    prefix = _common_prefix(trails)
    trail = list(prefix)
    for branch_trail in trails:
        trail.extend(branch_trail[len(prefix) :])
    name = results[0]["name"]
    return {
        "name": name,
        "greeting": f"Goodbye, {name}!",
        "branches": [result["greeting"] for result in results],
        "trail": [*trail, "Goodbye"],
    }


def run_step(step: Any, data: Any) -> dict[str, Any]:
    """Dispatch to the step's function; an unknown step is a StepError."""
    if step == "Hello":
        return hello(data)
    if step in BRANCH_STEPS:
        return branch(step, data)
    if step == "Goodbye":
        return goodbye(data)
    raise StepError(f"Unknown step {step!r}; expected one of {', '.join(STEPS)}")


def _check_result(result: Any, step: str) -> None:
    if not (
        isinstance(result, dict)
        and isinstance(result.get("name"), str)
        and isinstance(result.get("trail"), list)
    ):
        raise StepError(f"{step} expects a previous step's result with 'name' and 'trail'")


def _common_prefix(trails: list[list[Any]]) -> list[Any]:
    prefix: list[Any] = []
    for steps in zip(*trails, strict=False):
        if any(step != steps[0] for step in steps):
            break
        prefix.append(steps[0])
    return prefix


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: {"step": ..., "input": ...} -> the step's result."""
    if not isinstance(event, dict) or "step" not in event:
        raise StepError('The event must be {"step": <state name>, "input": <state input>}')
    step = event["step"]
    logger.append_keys(step=step)
    result = run_step(step, event.get("input"))
    logger.info("Step done", extra={"trail": result["trail"]})
    return result
