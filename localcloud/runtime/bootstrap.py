"""The worker process: a tiny Lambda runtime for Python handlers.

Started by the executor with the function's environment. It imports the handler once (the
init phase), then reads one invocation per line on stdin and writes one result per line on
a pipe of its own (LOCALCLOUD_RESULT_FD), so whatever the handler prints stays in the
logs and out of the protocol.
Standard library only: it must start fast.
"""

import importlib
import json
import os
import sys
import time
import traceback

END_OF_LOGS = "\x1elocalcloud-end "


class LambdaContext:
    """The fields and method of the context object AWS passes to Python handlers."""

    def __init__(self, request: dict) -> None:
        env = os.environ
        self.function_name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = request["arn"]
        self.memory_limit_in_mb = int(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = request.get("client_context")
        self._deadline_ms = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def _load_handler():
    spec = os.environ["_HANDLER"]
    module_name, _, func_name = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler {spec!r}: expected module.function")
    module = importlib.import_module(module_name.replace("/", "."))
    try:
        return getattr(module, func_name)
    except AttributeError:
        raise AttributeError(f"Handler {func_name!r} missing on module {module_name!r}") from None


def main() -> None:
    out = os.fdopen(int(os.environ.pop("LOCALCLOUD_RESULT_FD")), "w", buffering=1)
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    try:
        handler = _load_handler()
        init_error = None
    except Exception as exc:  # the init error is reported on every invocation, as Lambda does
        traceback.print_exc()
        etype = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else (
            "Runtime.HandlerNotFound" if isinstance(exc, AttributeError) else None)
        init_error = _error(exc, etype)
        handler = None
    out.write(json.dumps({"ready": True, "init_error": init_error}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request.get("trace_id", "")
        if init_error is not None:
            result = {"ok": False, "error": init_error}
        else:
            try:
                response = handler(request["event"], LambdaContext(request))
                try:
                    payload = json.dumps(response)
                except (TypeError, ValueError) as exc:
                    result = {"ok": False, "error": _error(
                        Exception(f"Unable to marshal response: {exc}"), "Runtime.MarshalError")}
                else:
                    result = {"ok": True, "payload": payload}
            except Exception as exc:
                traceback.print_exc()
                result = {"ok": False, "error": _error(exc)}
        sys.stderr.flush()
        # Marks the end of this invocation's logs, so the executor hands over every line.
        sys.stdout.write(f"{END_OF_LOGS}{request['request_id']}\n")
        sys.stdout.flush()
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
