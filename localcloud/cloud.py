"""LocalCloud: the embedded AWS (moto server in this process), the deployed stacks and the runtime.

One object ties together: the moto server on a loopback port, the executor running handlers,
the deployer, event-source pollers, schedules and the API server. Everything talks to the
embedded AWS through its public endpoint, the same way deployed code talks to AWS.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import motopatch
from .deployer import ACCOUNT, ApiDefinition, Deployer, StackRecord
from .runtime.executor import Executor, FunctionSpec, InvokeResult, TooManyRequests

REPO_ROOT = Path(__file__).resolve().parent.parent
ASYNC_RETRY_DELAYS_S = (0.5, 1.0)  # Lambda waits 1 and 2 minutes; locally we do not.
ASYNC_THROTTLE_DELAY_S = 0.1  # first wait before a throttled async event is tried again
_SFN_EVAL_LOGGER = "moto.stepfunctions.parser.asl.component.eval_component"


def _stderr_log(name: str, line: str) -> None:
    sys.stderr.write(f"[{name}] {line}\n")


class LocalCloud:
    """An embedded AWS cloud with the collection's stacks deployed into it."""

    def __init__(self, *, aws_port: int = 0, api_port: int = 3000, region: str = "us-east-1",
                 root: Path = REPO_ROOT, log: Any = _stderr_log, quiet: bool = False) -> None:
        self.region = region
        self.root = root
        self.requested_aws_port = aws_port
        self.api_port = api_port
        self.aws_port = aws_port
        self.quiet = quiet
        self._log = log
        self._server: Any = None
        self._saved_settings: tuple[Any, str | None] | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.layers: dict[str, Path] = {}
        self.aliases: dict[str, str] = {}
        self.apis_by_id: dict[str, ApiDefinition] = {}
        self.apis: list[ApiDefinition] = []
        self.stacks: dict[str, StackRecord] = {}
        self.root_stack: StackRecord | None = None
        self.schedules: dict[str, Any] = {}
        self.event_sources: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self.executor: Executor | None = None
        # A folder of this cloud's own, shared by all its workers, removed at stop: local-only
        # state that stands in for a service moto does not emulate (an embedded database).
        self.state_dir: Path | None = None
        self._stopping = threading.Event()
        self._async_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lambda-async")
        self.async_failures: list[dict[str, Any]] = []
        self._pending = 0
        self._pending_cond = threading.Condition()
        self.scheduler: Any = None
        self.pollers: Any = None
        self.api_server: Any = None

    # lifecycle ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    def start(self) -> LocalCloud:
        """Start the embedded AWS endpoint (no stacks yet)."""
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        # Process-wide settings: remembered so that stop() leaves the process as it found it.
        self._saved_settings = (default_user_config["stepfunctions"].get("execute_state_machine"),
                                os.environ.get("MOTO_PORT"))
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": self.region}.items():
            os.environ.setdefault(key, value)
        # werkzeug would log every AWS call of every handler; errors are enough.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # The Step Functions interpreter logs every state failure at ERROR with the state's
        # whole parse tree, even those a Retry or Catch handles; the execution history
        # (GetExecutionHistory, DescribeExecution) carries each failure already.
        logging.getLogger(_SFN_EVAL_LOGGER).setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.requested_aws_port,
                                          verbose=False)
        self._server.start()
        self.aws_port = self._server.get_host_and_port()[1]
        # moto's backends are process-wide: a new cloud starts empty, as a new account would.
        from moto.moto_api import _internal

        _internal.moto_api_backend.reset()
        # moto's Step Functions interpreter calls services at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.aws_port)
        motopatch.install(self)
        self.state_dir = Path(tempfile.mkdtemp(prefix="localcloud-state-"))
        self.executor = Executor(self._worker_env(), self._log)
        return self

    def _worker_env(self) -> dict[str, str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": "UTC",
            "HOME": os.environ.get("HOME", "/tmp"),
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_ENDPOINT_URL": self.endpoint,
            # X-Ray is not emulated: without a daemon the tracer would only log errors.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_DEV": os.environ.get("POWERTOOLS_DEV", "false"),
            "LOCALCLOUD": "1",
            "LOCALCLOUD_API_URL": f"http://127.0.0.1:{self.api_port}",
        }
        if self.state_dir is not None:
            env["LOCALCLOUD_STATE_DIR"] = str(self.state_dir)
        for key in ("R_HOME", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "TMPDIR"):
            if key in os.environ:
                env[key] = os.environ[key]
        return env

    def stop(self, wait_for_server: bool = True) -> None:
        """Stop everything; a process about to exit can skip the server's slow shutdown."""
        self._stopping.set()
        for part in (self.scheduler, self.pollers, self.api_server):
            if part is not None:
                part.stop()
        self._async_pool.shutdown(wait=False, cancel_futures=True)
        if self.executor:
            self.executor.close()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        if self._server and wait_for_server:
            self._server.stop()
        motopatch.uninstall(self)
        if self._saved_settings is not None:
            from moto.core.config import default_user_config

            execute, port = self._saved_settings
            default_user_config["stepfunctions"]["execute_state_machine"] = bool(execute)
            if port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = port
            self._saved_settings = None

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # clients ------------------------------------------------------------------------------
    def client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._clients:
                import boto3
                from botocore.config import Config

                self._clients[service] = boto3.client(
                    service, endpoint_url=self.endpoint, region_name=self.region,
                    aws_access_key_id="testing", aws_secret_access_key="testing",
                    config=Config(retries={"max_attempts": 2}, read_timeout=900,
                                  max_pool_connections=32))
            return self._clients[service]

    # deployment ---------------------------------------------------------------------------
    def deploy(self, template: Path | None = None, parameters: dict[str, Any] | None = None,
               apps: set[str] | None = None, stack_name: str = "local") -> StackRecord:
        """Deploy the root template (all apps, or only `apps`) and start delivering events."""
        cache = self.root / ".localcloud" / "cache"
        deployer = Deployer(self, cache)
        path = template or self.root / "template.yaml"
        # A template of its own (a test fixture, a benchmark) is an app named by its folder.
        standalone = path.resolve() != (self.root / "template.yaml").resolve()
        app = path.resolve().parent.name if standalone else "root"
        record = deployer.deploy(path, stack_name, parameters, app=app, only=apps)
        self.root_stack = record
        self.stacks.setdefault(app, record)
        return record

    def register_stack(self, record: StackRecord) -> None:
        self.stacks[record.app] = record

    def register_function(self, spec: FunctionSpec) -> None:
        assert self.executor is not None
        self.executor.register(spec)

    def register_api(self, api: ApiDefinition) -> None:
        self.apis.append(api)

    def register_schedule(self, name: str, expression: str, targets: list[dict[str, Any]],
                          enabled: bool, app: str, logical_id: str) -> None:
        from .scheduler import Schedule

        self.schedules[name] = Schedule(name=name, expression=expression, targets=targets,
                                        enabled=enabled, app=app, logical_id=logical_id)

    def register_event_source(self, uuid: str, props: dict[str, Any]) -> None:
        self.event_sources[uuid] = props

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if not self.quiet:
            sys.stderr.write(f"localcloud: warning: {message}\n")

    def outputs(self) -> dict[str, dict[str, Any]]:
        return {app: dict(rec.outputs) for app, rec in self.stacks.items() if app != "root"}

    def localise_url(self, value: Any) -> Any:
        """Point execute-api URLs (keeping the stage) and Cognito hosted-UI domains in outputs
        and function environments at the local API server."""
        if not isinstance(value, str):
            return value

        def repl(m: re.Match[str]) -> str:
            api = self.apis_by_id.get(m.group(1))
            if api is None or not api.base_path:
                return m.group(0)
            return f"http://127.0.0.1:{self.api_port}{api.base_path}"

        value = re.sub(r"https://([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com", repl,
                       value)
        # A Cognito user pool domain's hosted UI and OAuth endpoints (localcloud/cognito_oauth.py).
        return re.sub(r"https://([a-z0-9-]+)\.auth\.[a-z0-9-]+\.amazoncognito\.com",
                      lambda m: f"http://127.0.0.1:{self.api_port}/_localcloud/cognito/"
                                f"{m.group(1)}", value)

    # functions ----------------------------------------------------------------------------
    def function_name(self, name_or_arn: str) -> str:
        name_or_arn = self.aliases.get(name_or_arn, name_or_arn)
        if name_or_arn.startswith("arn:"):
            parts = name_or_arn.split(":")
            return parts[6]
        return name_or_arn

    def function_arn(self, name_or_arn: str) -> str:
        name = self.function_name(name_or_arn)
        return f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{name}"

    def function_spec(self, name_or_arn: str) -> FunctionSpec:
        assert self.executor is not None
        spec = self.executor.spec(self.function_name(name_or_arn))
        if spec is None:
            raise KeyError(f"function {name_or_arn!r} is not deployed")
        return spec

    def find_function(self, ident: str) -> FunctionSpec:
        """Find a function by `<app>/<LogicalId>`, a unique LogicalId, or its name."""
        assert self.executor is not None
        matches = []
        for rec in self.stacks.values():
            for lid, name in rec.functions.items():
                if ident in (f"{rec.app}/{lid}", lid, name):
                    matches.append(name)
        if not matches and self.executor.spec(ident):
            matches.append(ident)
        if not matches:
            raise KeyError(f"no function {ident!r} in the templates")
        if len(set(matches)) > 1:
            raise KeyError(f"{ident!r} is ambiguous; name it as <app>/<LogicalId>")
        return self.function_spec(matches[0])

    def invoke(self, name_or_arn: str, event: Any) -> InvokeResult:
        assert self.executor is not None
        return self.executor.invoke(self.function_name(name_or_arn), event)

    # motopatch.Dispatcher ----------------------------------------------------------------
    def invoke_sync(self, function: Any, event: Any) -> tuple[str, bool, str]:
        assert self.executor is not None
        name = function.function_name
        if self.executor.spec(name) is None:
            self._adopt(function)
        try:
            result = self.executor.invoke(name, event)
        except TooManyRequests as exc:
            from moto.awslambda.exceptions import LambdaClientError

            raise LambdaClientError("TooManyRequestsException", str(exc)) from exc
        return result.payload, not result.ok, result.logs

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        """Put/DeleteFunctionConcurrency through the Lambda API: the executor enforces it."""
        assert self.executor is not None
        self.executor.set_reserved_concurrency(name, value)

    def _adopt(self, function: Any) -> None:
        """Run a function created through the API (not from a template) from its zip."""
        import hashlib

        code = function.code_bytes
        digest = hashlib.sha256(code).hexdigest()[:16]
        target = self.root / ".localcloud" / "code" / digest
        if not target.exists():
            with zipfile.ZipFile(io.BytesIO(code)) as zf:
                zf.extractall(target)
        self.register_function(FunctionSpec(
            name=function.function_name, arn=function.function_arn, handler=function.handler,
            code_dir=target, environment=dict(function.environment_vars or {}),
            timeout=float(function.timeout), memory_mb=int(function.memory_size),
            runtime=function.run_time or "python3.11"))

    def invoke_async(self, function_arn: str, event: Any, source: str) -> None:
        with self._pending_cond:
            self._pending += 1
        self._async_pool.submit(self._run_async, function_arn, event, source)

    def _run_async(self, function_arn: str, event: Any, source: str) -> None:
        try:
            name = self.function_name(function_arn)
            assert self.executor is not None
            if self.executor.spec(name) is None:
                from moto.awslambda.utils import get_backend

                self._adopt(get_backend(ACCOUNT, self.region).get_function(name))
            spec = self.function_spec(name)
            result = None
            request_id = str(uuid.uuid4())  # one request, however many attempts (as on AWS)
            for attempt in range(spec.async_max_retries + 1):
                if attempt:
                    time.sleep(ASYNC_RETRY_DELAYS_S[min(attempt, 2) - 1])
                result = self._invoke_when_allowed(name, event, request_id)
                if result.ok:
                    break
            assert result is not None
            if result.ok:
                if spec.on_success_arn:
                    self._destination(spec.on_success_arn, spec, event, result, "Success")
                return
            failure = {"function": name, "source": source, "error": result.error}
            self.async_failures.append(failure)
            self._log(name, f"async invocation from {source} failed after "
                            f"{spec.async_max_retries + 1} attempts: {result.error}")
            if spec.on_failure_arn:
                self._destination(spec.on_failure_arn, spec, event, result, "RetriesExhausted")
            if spec.dead_letter_arn:
                self._send(spec.dead_letter_arn, json.dumps(event),
                           {"ErrorMessage": str((result.error or {}).get("errorMessage"))})
        except Exception as exc:  # never lose the failure silently
            self._log("localcloud", f"async delivery to {function_arn} failed: {exc!r}")
        finally:
            with self._pending_cond:
                self._pending -= 1
                self._pending_cond.notify_all()

    def _invoke_when_allowed(self, name: str, event: Any, request_id: str) -> InvokeResult:
        """Invoke; while throttled, wait and try again, as Lambda keeps a throttled async event
        (for up to six hours there; here until the cloud stops) instead of dropping it."""
        assert self.executor is not None
        delay = ASYNC_THROTTLE_DELAY_S
        while True:
            try:
                return self.executor.invoke(name, event, request_id)
            except TooManyRequests:
                if self._stopping.is_set():
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until asynchronous invocations have finished (for demos and tests)."""
        deadline = time.time() + timeout
        with self._pending_cond:
            while self._pending:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self._pending_cond.wait(left)
        return True

    def _destination(self, arn: str, spec: FunctionSpec, event: Any, result: InvokeResult,
                     condition: str) -> None:
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {"functionArn": spec.arn, "condition": condition,
                               "approximateInvokeCount": spec.async_max_retries + 1},
            "requestPayload": event,
            "responseContext": {"statusCode": 200,
                                "functionError": "Unhandled" if result.error else None},
            "responsePayload": result.error if result.error else json.loads(result.payload
                                                                             or "null"),
        }
        self._send(arn, json.dumps(record), {})

    def _send(self, arn: str, body: str, attrs: dict[str, str]) -> None:
        service = arn.split(":")[2]
        if service == "sqs":
            name = arn.split(":")[5]
            url = self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]
            msg_attrs = {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}
            self.client("sqs").send_message(QueueUrl=url, MessageBody=body,
                                            MessageAttributes=msg_attrs)
        elif service == "sns":
            self.client("sns").publish(TopicArn=arn, Message=body)
        elif service == "lambda":
            self.invoke_async(arn, json.loads(body), "lambda:destination")
        elif service == "events":
            self.client("events").put_events(Entries=[{
                "Source": "lambda", "DetailType": "Lambda Function Invocation Result",
                "Detail": body, "EventBusName": arn}])

    def start_execution(self, state_machine_arn: str, payload: str) -> None:
        self.client("stepfunctions").start_execution(stateMachineArn=state_machine_arn,
                                                     input=payload)

    # running services ---------------------------------------------------------------------
    def start_delivery(self) -> None:
        """Start event-source pollers and the schedule clock."""
        from .pollers import Pollers
        from .scheduler import Scheduler

        self.pollers = Pollers(self)
        self.pollers.start()
        self.scheduler = Scheduler(self)
        self.scheduler.start()

    def start_api(self, port: int | None = None) -> Any:
        from .apiserver import ApiServer

        self.api_server = ApiServer(self, port if port is not None else self.api_port)
        self.api_server.start()
        self.api_port = self.api_server.port
        return self.api_server
