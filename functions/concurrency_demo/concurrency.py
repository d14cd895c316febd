"""Set, show and clear SleepFunction's reserved concurrency, or pull the kill switch (0).

    python functions/concurrency_demo/concurrency.py show  --function NAME
    python functions/concurrency_demo/concurrency.py set 25 --function NAME
    python functions/concurrency_demo/concurrency.py kill  --function NAME   # reserve 0
    python functions/concurrency_demo/concurrency.py clear --function NAME   # no reservation

`--stack ROOT_STACK` finds the function from the root stack's `ConcurrencyDemoFunctionName`
output instead; `--endpoint-url http://127.0.0.1:4566` talks to a running `localcloud up`
(where the change throttles the local workers at once, as on Lambda). The same calls as
`aws lambda put-function-concurrency / get-function-concurrency / delete-function-concurrency`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3

OUTPUT = "ConcurrencyDemoFunctionName"


def show(lam: Any, function: str) -> dict[str, Any]:
    """The function's reservation (None: it shares the account's unreserved pool)."""
    reserved = lam.get_function_concurrency(FunctionName=function).get(
        "ReservedConcurrentExecutions")
    state = ("none (unreserved pool)" if reserved is None else
             "kill switch: every invocation is throttled" if reserved == 0 else
             f"at most {reserved} concurrent executions, {reserved} guaranteed")
    return {"function": function, "reservedConcurrentExecutions": reserved, "state": state}


def set_reservation(lam: Any, function: str, value: int) -> dict[str, Any]:
    """Reserve `value` concurrent executions (0 is the kill switch)."""
    if value < 0:
        raise ValueError("a reservation is 0 or more (use clear to remove it)")
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=value)
    return show(lam, function)


def clear(lam: Any, function: str) -> dict[str, Any]:
    """Remove the reservation: the function goes back to the unreserved pool."""
    lam.delete_function_concurrency(FunctionName=function)
    return show(lam, function)


def function_from_stack(cfn: Any, stack: str) -> str:
    outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for out in outputs:
        if out["OutputKey"] == OUTPUT:
            return str(out["OutputValue"])
    raise SystemExit(f"stack {stack} has no output {OUTPUT}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["show", "set", "clear", "kill"])
    parser.add_argument("value", nargs="?", type=int, help="reservation for `set`")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--function", help="function name or ARN")
    where.add_argument("--stack", help="root stack whose outputs name the function")
    parser.add_argument("--endpoint-url", help="e.g. http://127.0.0.1:4566 (localcloud up)")
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    kw = {k: v for k, v in (("endpoint_url", args.endpoint_url),
                            ("region_name", args.region)) if v}
    lam = boto3.client("lambda", **kw)
    function = args.function or function_from_stack(boto3.client("cloudformation", **kw),
                                                    args.stack)
    if args.command == "set" and args.value is None:
        parser.error("set needs a value, e.g. `set 25`")
    result = {"show": lambda: show(lam, function),
              "set": lambda: set_reservation(lam, function, args.value),
              "kill": lambda: set_reservation(lam, function, 0),
              "clear": lambda: clear(lam, function)}[args.command]()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
