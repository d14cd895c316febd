"""Invoke handlers in warm worker processes with the function's environment, timeout and memory.

Each function gets a pool of workers (one per concurrent invocation, as Lambda keeps one
execution environment per concurrent request). A worker that times out, runs out of memory
or dies is killed and replaced; the others keep serving.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
END_OF_LOGS = "\x1elocalcloud-end "  # bootstrap.END_OF_LOGS (the worker imports nothing of ours)
# Concurrent invocations of a function without reserved concurrency (Lambda's account limit is
# 1,000; a laptop is not). LOCALCLOUD_MAX_CONCURRENCY raises it, e.g. for a load test.
DEFAULT_MAX_CONCURRENCY = 16
_MEMORY_POLL_S = 0.05


@dataclass
class FunctionSpec:
    """What a worker needs to run one function, taken from its template."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    layers: list[Path] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    memory_mb: int = 128
    reserved_concurrency: int | None = None
    logical_id: str = ""
    app: str = ""
    runtime: str = "python3.11"
    async_max_retries: int = 2
    dead_letter_arn: str | None = None
    on_failure_arn: str | None = None
    on_success_arn: str | None = None


@dataclass
class InvokeResult:
    """A finished invocation: the payload JSON text or a Lambda-shaped error, and its logs."""

    payload: str
    error: dict[str, Any] | None
    logs: str
    duration_ms: float
    max_memory_mb: int

    @property
    def ok(self) -> bool:
        return self.error is None


class TooManyRequests(Exception):
    """Reserved concurrency reached (Lambda's 429 TooManyRequestsException)."""


class _Worker:
    def __init__(self, spec: FunctionSpec, base_env: dict[str, str], log: Callable[[str], None]):
        self.spec = spec
        self._log = log
        self._lines: list[str] = []
        self._lines_lock = threading.Lock()
        self._logs_done = threading.Event()
        env = dict(base_env)
        env.update(spec.environment)
        paths = [str(spec.code_dir)] + [str(p) for p in spec.layers]
        env.update({
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "PYTHONPATH": os.pathsep.join(paths),
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"localcloud/{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        read_fd, write_fd = os.pipe()
        env["LOCALCLOUD_RESULT_FD"] = str(write_fd)
        self.proc = subprocess.Popen(
            [sys.executable, "-X", "frozen_modules=on", str(BOOTSTRAP)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, cwd=str(spec.code_dir), pass_fds=(write_fd,),
            start_new_session=True, text=True, bufsize=1,
        )
        os.close(write_fd)
        self._results = os.fdopen(read_fd, "r", buffering=1)
        threading.Thread(target=self._pump_logs, daemon=True).start()
        self.init_started = time.monotonic()
        hello = self._read_result(timeout=max(spec.timeout, 10.0))
        if hello is None:
            raise RuntimeError(f"{spec.name}: worker failed to start: {self.take_logs()}")
        self.init_error = hello.get("init_error")
        self.init_ms = (time.monotonic() - self.init_started) * 1000

    def _pump_logs(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith(END_OF_LOGS):
                self._logs_done.set()
                continue
            with self._lines_lock:
                self._lines.append(line)
            self._log(line)

    def take_logs(self, wait: bool = False) -> str:
        """This invocation's log lines; with `wait`, after the worker's end-of-logs marker."""
        if wait:
            self._logs_done.wait(1.0)
        self._logs_done.clear()
        with self._lines_lock:
            text = "\n".join(self._lines)
            self._lines.clear()
        return text

    def _read_result(self, timeout: float) -> dict[str, Any] | None:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self._results.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        if not box or not box[0]:
            return None
        return json.loads(box[0])

    def peak_rss_mb(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0

    def rss_mb(self) -> int:
        try:
            with open(f"/proc/{self.proc.pid}/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
        except (OSError, ValueError):
            return 0

    def invoke(self, event: Any, request_id: str, deadline: float) -> tuple[dict, str]:
        """Run one invocation; returns (result message, reason) with reason '' when normal."""
        request = {"event": event, "request_id": request_id, "arn": self.spec.arn,
                   "deadline_ms": deadline * 1000,
                   "trace_id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"}
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return {}, "exited"
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self._results.readline()),
                                  daemon=True)
        reader.start()
        oom = False
        while reader.is_alive():
            remaining = deadline - time.time()
            if remaining <= 0:
                break
            reader.join(min(_MEMORY_POLL_S, remaining))
            if self.rss_mb() > self.spec.memory_mb:
                oom = True
                break
        if reader.is_alive() or not box or not box[0]:
            if oom:
                return {}, "oom"
            return {}, "timeout" if time.time() >= deadline else "exited"
        return json.loads(box[0]), ""

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)


class FunctionPool:
    """The warm workers of one function."""

    def __init__(self, spec: FunctionSpec, base_env: dict[str, str],
                 log: Callable[[str], None]) -> None:
        self.spec = spec
        self._base_env = base_env
        self._log = log
        self._idle: list[_Worker] = []
        self._busy = 0
        self._cond = threading.Condition()
        self.invocations = 0
        self._unreserved_limit = int(os.environ.get("LOCALCLOUD_MAX_CONCURRENCY")
                                     or DEFAULT_MAX_CONCURRENCY)

    @property
    def limit(self) -> int:
        rc = self.spec.reserved_concurrency
        return self._unreserved_limit if rc is None else rc

    def set_reserved_concurrency(self, value: int | None) -> None:
        """PutFunctionConcurrency (an int, 0 = the kill switch) or DeleteFunctionConcurrency
        (None); invocations already running finish, new ones see the new limit."""
        with self._cond:
            self.spec.reserved_concurrency = value
            self._cond.notify_all()

    def _acquire(self) -> _Worker | None:
        with self._cond:
            if self.spec.reserved_concurrency is not None and self._busy >= self.limit:
                raise TooManyRequests(
                    f"Rate Exceeded: {self.spec.name} has reserved concurrency {self.limit}")
            while self._busy >= self.limit:
                self._cond.wait()
            self._busy += 1
            self.invocations += 1
            return self._idle.pop() if self._idle else None

    def _release(self, worker: _Worker | None) -> None:
        with self._cond:
            self._busy -= 1
            if worker is not None:
                self._idle.append(worker)
            self._cond.notify()

    def invoke(self, event: Any, request_id: str | None = None) -> InvokeResult:
        request_id = request_id or str(uuid.uuid4())
        worker = self._acquire()
        started = time.time()
        deadline = started + self.spec.timeout
        keep: _Worker | None = None
        try:
            if worker is None:
                worker = _Worker(self.spec, self._base_env, self._log)
            message, reason = worker.invoke(event, request_id, deadline)
            duration = (time.time() - started) * 1000
            logs = worker.take_logs(wait=not reason)
            peak = worker.peak_rss_mb()
            if reason:
                worker.kill()
                error = _failure(reason, self.spec, request_id, logs, worker)
                result = InvokeResult(json.dumps(error), error, logs, duration, peak)
            else:
                if message.get("ok"):
                    result = InvokeResult(message["payload"], None, logs, duration, peak)
                else:
                    error = dict(message["error"])
                    error["requestId"] = request_id
                    result = InvokeResult(json.dumps(error), error, logs, duration, peak)
                keep = worker
            self._log(
                f"REPORT RequestId: {request_id} Duration: {duration:.2f} ms "
                f"Memory Size: {self.spec.memory_mb} MB Max Memory Used: {peak} MB"
            )
            return result
        finally:
            self._release(keep)

    def close(self) -> None:
        with self._cond:
            workers, self._idle = self._idle, []
        for w in workers:
            w.kill()


def _failure(reason: str, spec: FunctionSpec, request_id: str, logs: str,
             worker: _Worker) -> dict[str, Any]:
    if reason == "timeout":
        msg = f"RequestId: {request_id} Error: Task timed out after {spec.timeout:.2f} seconds"
        return {"errorType": "Sandbox.Timedout", "errorMessage": msg}
    if reason == "oom":
        msg = (f"RequestId: {request_id} Error: Runtime exited with error: signal: killed "
               f"(memory above {spec.memory_mb} MB)")
        return {"errorType": "Runtime.OutOfMemory", "errorMessage": msg}
    code = worker.proc.poll()
    msg = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
    return {"errorType": "Runtime.ExitError", "errorMessage": msg}


class Executor:
    """All function pools of a local cloud."""

    def __init__(self, base_env: dict[str, str], log: Callable[[str, str], None]) -> None:
        self.base_env = base_env
        self._log = log
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def register(self, spec: FunctionSpec) -> None:
        with self._lock:
            old = self._pools.get(spec.name)
            self._pools[spec.name] = FunctionPool(
                spec, self.base_env, lambda line, n=spec.name: self._log(n, line))
        if old:
            old.close()

    def spec(self, name: str) -> FunctionSpec | None:
        pool = self._pools.get(name)
        return pool.spec if pool else None

    def pool(self, name: str) -> FunctionPool | None:
        return self._pools.get(name)

    def set_reserved_concurrency(self, name: str, value: int | None) -> None:
        """Apply a reservation changed through the Lambda API (unknown functions: ignored)."""
        pool = self._pools.get(name)
        if pool is not None:
            pool.set_reserved_concurrency(value)

    def invoke(self, name: str, event: Any, request_id: str | None = None) -> InvokeResult:
        pool = self._pools.get(name)
        if pool is None:
            raise KeyError(f"function {name!r} is not deployed")
        return pool.invoke(event, request_id)

    def close(self) -> None:
        for pool in list(self._pools.values()):
            pool.close()
