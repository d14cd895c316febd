"""Structural checks of Amazon States Language definitions (what statelint catches first).

Problems found: a missing or dangling StartAt, an unknown or missing Type, a Task without a
Resource, a transition (Next, Default, a Choice rule's Next, a Catcher's Next) to a state that
does not exist, a state that needs Next or End and has neither (or has both), Choice, Succeed
and Fail states that carry Next/End, a Choice without Choices, states unreachable from StartAt,
and a machine with no terminal state. Parallel branches and Map item processors are checked as
machines of their own.

Usage: python tools/asl_check.py statemachines/*.json  (exit 1 and one line per problem)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

STATE_TYPES = frozenset({"Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"})
# Succeed and Fail end the machine by themselves; Choice moves on through its rules.
TERMINAL_TYPES = frozenset({"Succeed", "Fail"})
NO_TRANSITION_TYPES = frozenset({"Choice", "Succeed", "Fail"})


def check_definition(defn: Any, where: str = "State Machine") -> list[str]:
    """The problems of one definition (a machine, or a Parallel branch / Map processor)."""
    if defn is None:
        return [f"{where} is missing"]
    if not isinstance(defn, dict):
        return [f"{where} is not a JSON object"]
    problems: list[str] = []
    states = defn.get("States")
    if not isinstance(states, dict) or not states:
        problems.append(f'{where} does not have required field "States" (a non-empty object)')
        states = {}
    start = defn.get("StartAt")
    if not isinstance(start, str) or not start:
        problems.append(f'{where} does not have required field "StartAt"')
        start = None
    elif states and start not in states:
        problems.append(f'{where}.StartAt "{start}" is not a state of the machine')

    for name, state in states.items():
        problems.extend(_check_state(f"{where}.States.{name}", state, states))

    if states:
        if not any(_is_terminal(state) for state in states.values()):
            problems.append(f"No terminal state found in machine at {where}.States")
        if start in states:
            reachable = _reachable(start, states)
            problems.extend(
                f"{where}.States.{name} is not reachable from StartAt"
                for name in states
                if name not in reachable
            )
    return problems


def _check_state(where: str, state: Any, states: dict[str, Any]) -> list[str]:
    if not isinstance(state, dict):
        return [f"{where} is not a JSON object"]
    problems: list[str] = []
    kind = state.get("Type")
    if kind not in STATE_TYPES:
        shown = "missing" if kind is None else f'"{kind}"'
        problems.append(f"{where} has an unknown or missing Type ({shown})")
        return problems

    has_next = "Next" in state
    has_end = state.get("End") is True
    if kind in NO_TRANSITION_TYPES:
        for field in ("Next", "End"):
            if field in state:
                problems.append(f'{where} is a {kind} state and must not have field "{field}"')
    elif has_next and has_end:
        problems.append(f'{where} has both "Next" and "End"; it must have exactly one')
    elif not has_next and not has_end:
        problems.append(f'{where} does not have required field "Next" (or "End": true)')

    if kind == "Task" and not state.get("Resource"):
        problems.append(f'{where} does not have required field "Resource"')
    if kind == "Choice":
        choices = state.get("Choices")
        if not isinstance(choices, list) or not choices:
            problems.append(f'{where} does not have required field "Choices" (a non-empty list)')
        else:
            for index, rule in enumerate(choices):
                if not isinstance(rule, dict) or "Next" not in rule:
                    problems.append(f'{where}.Choices[{index}] does not have required field "Next"')

    for field, target in _transitions(state):
        if not isinstance(target, str) or target not in states:
            problems.append(f'{where}.{field} points to missing state "{target}"')

    for field, sub in _sub_machines(state):
        problems.extend(check_definition(sub, f"{where}.{field}"))
    return problems


def _transitions(state: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field path, target) of every transition out of `state`."""
    if "Next" in state:
        yield "Next", state["Next"]
    if state.get("Type") == "Choice":
        if "Default" in state:
            yield "Default", state["Default"]
        choices = state.get("Choices")
        if isinstance(choices, list):
            for index, rule in enumerate(choices):
                if isinstance(rule, dict) and "Next" in rule:
                    yield f"Choices[{index}].Next", rule["Next"]
    catchers = state.get("Catch")
    if isinstance(catchers, list):
        for index, catcher in enumerate(catchers):
            if isinstance(catcher, dict) and "Next" in catcher:
                yield f"Catch[{index}].Next", catcher["Next"]


def _sub_machines(state: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(field path, definition) of the machines nested in a Parallel or Map state."""
    if state.get("Type") == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            yield "Branches", None
        else:
            for index, branch in enumerate(branches):
                yield f"Branches[{index}]", branch
    elif state.get("Type") == "Map":
        # ItemProcessor replaced Iterator; either one is accepted.
        field = "Iterator" if "Iterator" in state else "ItemProcessor"
        yield field, state.get(field)


def _is_terminal(state: Any) -> bool:
    return isinstance(state, dict) and (
        state.get("Type") in TERMINAL_TYPES or state.get("End") is True
    )


def _reachable(start: str, states: dict[str, Any]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        state = states.get(todo.pop())
        if not isinstance(state, dict):
            continue
        for _, target in _transitions(state):
            if isinstance(target, str) and target in states and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def check_file(path: str | Path) -> list[str]:
    """The problems of the definition in `path` (an unreadable file is one problem)."""
    try:
        defn = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        return [f"cannot load definition: {err}"]
    return check_definition(defn)


def main(argv: list[str] | None = None) -> int:
    """Check every file named in `argv`; print `file: problem` lines; 1 if any problem."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python tools/asl_check.py DEFINITION.json...", file=sys.stderr)
        return 2
    found = 0
    for path in paths:
        for problem in check_file(path):
            print(f"{path}: {problem}")
            found += 1
    if found:
        print(f"{found} problem(s) in {len(paths)} definition(s)", file=sys.stderr)
        return 1
    print(f"{len(paths)} definition(s) checked: no problems", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
