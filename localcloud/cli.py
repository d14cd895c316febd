"""`localcloud`: invoke, start-api, up, outputs, fire, demo (see PLATFORM.md for the contract)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .cloud import REPO_ROOT, LocalCloud
from .testing import free_port

STATE_DIR = REPO_ROOT / ".localcloud"


class CliError(Exception):
    """A one-line error for the user; exit status 2."""



def _state_file(aws_port: int) -> Path:
    return STATE_DIR / f"up-{aws_port}.json"


def _running_up(aws_port: int) -> dict[str, Any] | None:
    """The state of a live `localcloud up` on this AWS port, if any."""
    path = _state_file(aws_port)
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    try:
        with urllib.request.urlopen(
                f"http://127.0.0.1:{state['api_port']}/_localcloud/health", timeout=2):
            return state
    except (OSError, urllib.error.URLError):
        return None


def _control(state: dict[str, Any], path: str, method: str = "GET") -> Any:
    req = urllib.request.Request(f"http://127.0.0.1:{state['api_port']}/_localcloud/{path}",
                                 method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise CliError(json.loads(exc.read()).get("message", str(exc))) from None


def _read_event(source: str | None) -> Any:
    if source is None:
        return {}
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
    except OSError as exc:
        raise CliError(f"cannot read event {source}: {exc.strerror}") from None
    try:
        return json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise CliError(f"event {source} is not valid JSON: {exc}") from None


def _app_of(ident: str) -> str:
    """Which app's stack holds a function named `<app>/<LogicalId>` or by a bare logical id."""
    if "/" in ident:
        app = ident.split("/", 1)[0]
        if not (REPO_ROOT / "stacks" / f"{app}.yaml").exists():
            raise CliError(f"no app {app!r} (no stacks/{app}.yaml)")
        return app
    from . import cfn_yaml

    found = []
    for path in sorted((REPO_ROOT / "stacks").glob("*.yaml")):
        resources = cfn_yaml.load(path).get("Resources", {})
        if resources.get(ident, {}).get("Type") == "AWS::Serverless::Function":
            found.append(path.stem)
    if not found:
        raise CliError(f"no function {ident!r} in stacks/*.yaml")
    if len(found) > 1:
        raise CliError(f"{ident!r} is in several apps ({', '.join(found)}); use <app>/{ident}")
    return found[0]


def _print_result(result: Any) -> int:
    sys.stdout.write((result.payload or "null") + "\n")
    sys.stdout.flush()
    if result.error:
        sys.stderr.write(f"localcloud: function error: {result.error.get('errorType')}: "
                         f"{result.error.get('errorMessage')}\n")
        return 1
    return 0


# commands ------------------------------------------------------------------------------------
def cmd_invoke(args: argparse.Namespace) -> int:
    event = _read_event(args.event)
    state = _running_up(args.aws_port)
    if state is not None:
        from .runtime.executor import Executor, FunctionSpec

        info = _control(state, f"functions/{args.function}")
        env = LocalCloud(aws_port=args.aws_port, api_port=state["api_port"])._worker_env()
        executor = Executor(env, lambda name, line: sys.stderr.write(line + "\n"))
        executor.register(FunctionSpec(
            name=info["name"], arn=info["arn"], handler=info["handler"],
            code_dir=Path(info["codeDir"]), layers=[Path(p) for p in info["layers"]],
            environment=info["environment"], timeout=info["timeout"],
            memory_mb=info["memoryMb"]))
        try:
            return _print_result(executor.invoke(info["name"], event))
        finally:
            executor.close()
    template = Path(args.template).resolve() if args.template else None
    if template is not None and not template.exists():
        raise CliError(f"no template {args.template}")
    apps = None if template else {_app_of(args.function)}
    cloud = LocalCloud(aws_port=0, api_port=free_port(),
                       log=lambda name, line: sys.stderr.write(line + "\n"), quiet=True)
    cloud.start()
    try:
        cloud.deploy(template=template, apps=apps)
        try:
            spec = cloud.find_function(args.function)
        except KeyError as exc:
            raise CliError(str(exc.args[0])) from None
        return _print_result(cloud.invoke(spec.name, event))
    finally:
        cloud.stop(wait_for_server=False)  # the process ends here


def _serve(args: argparse.Namespace, with_delivery: bool) -> int:
    started = time.perf_counter()
    # Outputs carry the API URL, so the port is fixed before the stacks are deployed.
    cloud = LocalCloud(aws_port=args.aws_port, api_port=args.api_port or free_port())
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with cloud:
        template = Path(args.template).resolve() if getattr(args, "template", None) else None
        if template is not None and not template.exists():
            raise CliError(f"no template {args.template}")
        cloud.deploy(template=template,
                     apps=set(args.apps) if getattr(args, "apps", None) else None)
        cloud.start_api()
        if with_delivery:
            cloud.start_delivery()
        STATE_DIR.mkdir(exist_ok=True)
        state_path = _state_file(cloud.aws_port)
        state_path.write_text(json.dumps({"pid": os.getpid(), "aws_port": cloud.aws_port,
                                          "api_port": cloud.api_port}))
        ready = time.perf_counter() - started
        print(f"localcloud ready in {ready:.2f} s", flush=True)
        print(f"  AWS endpoint:  {cloud.endpoint}   (boto3: endpoint_url=...)")
        print(f"  APIs:          http://127.0.0.1:{cloud.api_port}")
        for api in cloud.apis:
            stages = ",".join(s for s in api.stages if s != "$default")
            print(f"    {api.app:24} http://127.0.0.1:{cloud.api_port}{api.base_path}"
                  f"{'/' + stages if stages else ''}")
        if with_delivery and cloud.schedules:
            print("  schedules (fire now: localcloud fire <app>/<LogicalId>):")
            for s in cloud.schedules.values():
                print(f"    {s.app}/{s.logical_id:30} {s.expression}")
        print("Ctrl-C to stop.", flush=True)
        try:
            # A timed wait: a signal delivered to another thread does not interrupt an
            # untimed one, and the handler only runs once the main thread wakes up.
            while not stop.wait(0.5):
                pass
        finally:
            state_path.unlink(missing_ok=True)
            print("localcloud stopped.", flush=True)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    return _serve(args, with_delivery=True)


def cmd_start_api(args: argparse.Namespace) -> int:
    args.aws_port = 0
    args.api_port = args.port
    return _serve(args, with_delivery=False)


def cmd_outputs(args: argparse.Namespace) -> int:
    state = _running_up(args.aws_port)
    if state is not None:
        outputs = _control(state, "outputs")
    else:
        sys.stderr.write(f"localcloud: no `localcloud up` on port {args.aws_port}; "
                         "showing the outputs of a fresh deployment\n")
        with LocalCloud(aws_port=0, api_port=3000, quiet=True) as cloud:
            cloud.deploy()
            outputs = cloud.outputs()
    print(json.dumps(outputs, indent=2, sort_keys=True))
    return 0


def cmd_fire(args: argparse.Namespace) -> int:
    state = _running_up(args.aws_port)
    if state is None:
        raise CliError(f"no `localcloud up` on port {args.aws_port}")
    print(json.dumps(_control(state, f"schedules/{args.schedule}/fire", "POST"), indent=2))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demos

    return run_demos(args.apps, verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="localcloud", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    inv = sub.add_parser("invoke", help="run one function with an event, like sam local invoke")
    inv.add_argument("function", help="<app>/<LogicalId>, a unique LogicalId or function name")
    inv.add_argument("--event", "-e", help="event JSON file, or - for stdin")
    inv.add_argument("--template", "-t", help="template file (default: the collection's)")
    inv.add_argument("--aws-port", type=int, default=4566)
    inv.set_defaults(func=cmd_invoke)

    api = sub.add_parser("start-api", help="serve every app's API, like sam local start-api")
    api.add_argument("--port", "-p", type=int, default=3000)
    api.add_argument("--template", "-t", help="template file (default: the collection's)")
    api.add_argument("apps", nargs="*", help="only these apps (default: all)")
    api.set_defaults(func=cmd_start_api)

    up = sub.add_parser("up", help="the whole collection on the embedded cloud")
    up.add_argument("--aws-port", type=int, default=4566)
    up.add_argument("--api-port", type=int, default=3000)
    up.add_argument("--template", "-t", help="template file (default: the collection's)")
    up.add_argument("apps", nargs="*", help="only these apps (default: all)")
    up.set_defaults(func=cmd_up)

    out = sub.add_parser("outputs", help="stack outputs as JSON")
    out.add_argument("--aws-port", type=int, default=4566)
    out.set_defaults(func=cmd_outputs)

    fire = sub.add_parser("fire", help="fire a schedule of a running `up` now")
    fire.add_argument("schedule", help="<app>/<LogicalId> or rule name")
    fire.add_argument("--aws-port", type=int, default=4566)
    fire.set_defaults(func=cmd_fire)

    demo = sub.add_parser("demo", help="run the apps' scenarios end to end")
    demo.add_argument("apps", nargs="*", help="only these apps (default: all with a demo)")
    demo.add_argument("--verbose", "-v", action="store_true", help="show function logs")
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        sys.stderr.write(f"localcloud: {exc}\n")
        return 2
    except Exception as exc:
        from .deployer import DeployError
        from .templates import TemplateError

        if isinstance(exc, (DeployError, TemplateError)):
            sys.stderr.write(f"localcloud: deploy failed: {exc}\n")
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
