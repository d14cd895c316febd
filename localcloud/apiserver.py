"""Serve every app's API Gateway routes over HTTP, as `sam local start-api` does.

Each API lives under its app's base path (its stack output gives the URL); REST APIs keep the
stage in the path, HTTP APIs on `$default` do not. Requests become REST v1 or HTTP v2 proxy
events, Lambda authorizers (TOKEN/REQUEST, simple or IAM-policy responses) run first.
`/_localcloud/...` holds the control endpoints of a running `localcloud up`.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from .deployer import ACCOUNT, ApiAuthorizer, ApiDefinition, ApiRoute
from .runtime.executor import TooManyRequests

if TYPE_CHECKING:
    from .cloud import LocalCloud

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _route_regex(path: str) -> re.Pattern[str]:
    out = ""
    for part in re.split(r"(\{[^}]+\})", path):
        if part.startswith("{") and part.endswith("+}"):
            out += f"(?P<{_param(part[1:-2])}>.+)"
        elif part.startswith("{"):
            out += f"(?P<{_param(part[1:-1])}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}/?$")


def _param(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _match(api: ApiDefinition, method: str, path: str) -> tuple[ApiRoute, dict[str, str]] | None:
    best = None
    for route in api.routes:
        if route.method not in (method, "ANY"):
            continue
        m = _route_regex(route.path).match(path)
        if not m:
            continue
        names = re.findall(r"\{([^}+]+)\+?\}", route.path)
        params = {n: unquote(m.group(_param(n))) for n in names}
        score = (route.path.count("{") == 0, len(route.path) - 10 * route.path.count("+"),
                 route.method == method)
        if best is None or score > best[0]:
            best = (score, route, params)
    return (best[1], best[2]) if best else None


class _HTTPServer(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: a burst of concurrent clients (a load test's 50
    # connections) would see connections reset before a thread could accept them.
    request_queue_size = 256


class ApiServer:
    """A threaded HTTP server in front of the local cloud's APIs."""

    def __init__(self, cloud: LocalCloud, port: int) -> None:
        self.cloud = cloud
        handler = type("Handler", (_Handler,), {"server_ref": self})
        self.httpd = _HTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="api", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # API Gateway -------------------------------------------------------------------------
    def find_api(self, path: str) -> tuple[ApiDefinition, str, str] | None:
        """(api, stage, path within the stage) for a request path."""
        for api in sorted(self.cloud.apis, key=lambda a: -len(a.base_path)):
            base = api.base_path
            if not (path == base or path.startswith(base + "/")):
                continue
            rest = path[len(base):] or "/"
            if api.kind == "http" and "$default" in api.stages:
                return api, "$default", rest
            parts = rest.split("/", 2)
            stage = parts[1] if len(parts) > 1 else ""
            if stage in api.stages:
                return api, stage, "/" + (parts[2] if len(parts) > 2 else "")
            raise _Reply(403, {"message": f"Forbidden: no stage {stage!r}; stages: "
                                          f"{api.stages}"})
        return None

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes,
               source_ip: str) -> tuple[int, dict[str, str], bytes]:
        url = urlsplit(raw_path)
        found = self.find_api(url.path)
        if found is None:
            bases = sorted(a.base_path for a in self.cloud.apis)
            raise _Reply(404, {"message": f"no API at {url.path}; APIs: {bases}"})
        api, stage, path = found
        if method == "OPTIONS" and api.cors:
            return 204, _cors_headers(api.cors, headers), b""
        matched = _match(api, method, path)
        if matched is None:
            raise _Reply(404 if api.kind == "http" else 403,
                         {"message": "Not Found" if api.kind == "http" else
                          "Missing Authentication Token"})
        route, path_params = matched
        headers = _forwarded(headers, api, source_ip, self.port)
        if route.function_arn is None:
            if route.mock_response is not None:
                return 200, route.mock_response, b""
            raise _Reply(500, {"message": "integration is not a Lambda proxy"})
        req = _Request(api, stage, route, method, url.path, path, url.query, headers, body,
                       path_params, source_ip)
        authorizer_context = None
        if route.authorizer:
            authorizer_context = self._authorize(api.authorizers[route.authorizer], req)
        event = req.event_v1(authorizer_context) if api.kind == "rest" else req.event_v2(
            authorizer_context)
        try:
            result = self.cloud.invoke(route.function_arn, event)
        except TooManyRequests:
            # Lambda throttled the function (reserved concurrency reached, or 0): API Gateway
            # answers 429 and never runs the handler.
            raise _Reply(429, {"message": "Too Many Requests"}) from None
        if not result.ok:
            raise _Reply(502, {"message": "Internal server error"})
        status, out_headers, out_body = _response(result.payload, api.kind)
        if api.cors:
            out_headers.update(_cors_headers(api.cors, headers))
        return status, out_headers, out_body

    def _authorize(self, auth: ApiAuthorizer, req: _Request) -> dict[str, Any] | None:
        if auth.kind == "jwt":
            raise _Reply(501, {"message": "JWT authorizers are not emulated locally"})
        sources = [req.identity(s) for s in auth.identity_source]
        if any(v is None for v in sources):
            raise _Reply(401, {"message": "Unauthorized"})
        if auth.kind == "token":
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": sources[0],
                                     "methodArn": req.method_arn}
        elif req.api.kind == "rest":
            event = {**req.event_v1(None), "type": "REQUEST", "methodArn": req.method_arn}
        else:
            event = {**req.event_v2(None), "type": "REQUEST", "routeArn": req.method_arn,
                     "identitySource": sources}
        result = self.cloud.invoke(auth.function_arn, event)
        if not result.ok:
            if "Unauthorized" in str((result.error or {}).get("errorMessage")):
                raise _Reply(401, {"message": "Unauthorized"})
            raise _Reply(500, {"message": "AuthorizerConfigurationException"})
        answer = json.loads(result.payload or "null") or {}
        if auth.simple_responses:
            if not answer.get("isAuthorized"):
                raise _Reply(403, {"message": "Forbidden"})
            return {"lambda": answer.get("context") or {}}
        if not _policy_allows(answer.get("policyDocument") or {}, req.method_arn):
            raise _Reply(403, {"message": "User is not authorized to access this resource"})
        context = dict(answer.get("context") or {})
        context["principalId"] = answer.get("principalId")
        return context if req.api.kind == "rest" else {"lambda": context}


def _forwarded(headers: dict[str, str], api: ApiDefinition, source_ip: str,
               port: int) -> dict[str, str]:
    """The X-Forwarded-* headers API Gateway adds (For, Proto, Port), and X-Forwarded-Prefix:
    the API's local base path, which a handler needs to build absolute URLs to itself."""
    present = {k.lower() for k in headers}
    added = {"X-Forwarded-For": source_ip, "X-Forwarded-Proto": "http",
             "X-Forwarded-Port": str(port), "X-Forwarded-Prefix": api.base_path}
    return {**headers, **{k: v for k, v in added.items() if k.lower() not in present}}


def _policy_allows(policy: dict[str, Any], arn: str) -> bool:
    allowed = False
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for st in statements:
        resources = st.get("Resource") or []
        if isinstance(resources, str):
            resources = [resources]
        if any(fnmatch.fnmatchcase(arn, r) for r in resources):
            if st.get("Effect") == "Deny":
                return False
            allowed = allowed or st.get("Effect") == "Allow"
    return allowed


def _cors_headers(cors: dict[str, Any], headers: dict[str, str]) -> dict[str, str]:
    origins = cors.get("allowOrigins") or ["*"]
    origin = headers.get("origin", "*")
    return {
        "Access-Control-Allow-Origin": origin if origin in origins else origins[0],
        "Access-Control-Allow-Methods": ",".join(cors.get("allowMethods") or ["*"]),
        "Access-Control-Allow-Headers": ",".join(cors.get("allowHeaders") or ["*"]),
    }


def _response(payload: str, kind: str) -> tuple[int, dict[str, str], bytes]:
    try:
        out = json.loads(payload) if payload else None
    except ValueError:
        raise _Reply(502, {"message": "Internal server error"}) from None
    if kind == "http" and not (isinstance(out, dict) and "statusCode" in out):
        return 200, {"Content-Type": "application/json"}, json.dumps(out).encode()
    if not isinstance(out, dict) or "statusCode" not in out:
        raise _Reply(502, {"message": "Internal server error"})
    headers = {k: str(v) for k, v in (out.get("headers") or {}).items()}
    for k, values in (out.get("multiValueHeaders") or {}).items():
        headers[k] = ", ".join(str(v) for v in values)
    if kind == "http" and out.get("cookies"):
        headers["Set-Cookie"] = "; ".join(out["cookies"])
    body = out.get("body") or ""
    raw = base64.b64decode(body) if out.get("isBase64Encoded") else str(body).encode()
    return int(out["statusCode"]), headers, raw


class _Request:
    def __init__(self, api: ApiDefinition, stage: str, route: ApiRoute, method: str,
                 full_path: str, path: str, query: str, headers: dict[str, str], body: bytes,
                 path_params: dict[str, str], source_ip: str) -> None:
        self.api, self.stage, self.route, self.method = api, stage, route, method
        self.full_path, self.path, self.query = full_path, path, query
        self.headers, self.body, self.path_params = headers, body, path_params
        self.source_ip = source_ip
        self.request_id = str(uuid.uuid4())
        self.now = datetime.now(UTC)
        self.qs = parse_qs(query, keep_blank_values=True)
        self.method_arn = (f"arn:aws:execute-api:{api_region()}:{ACCOUNT}:{api.api_id}/{stage}/"
                           f"{method}{path}")

    def identity(self, source: str) -> str | None:
        source = source.strip()
        lower = {k.lower(): v for k, v in self.headers.items()}
        for prefix in ("method.request.header.", "$request.header."):
            if source.startswith(prefix):
                return lower.get(source[len(prefix):].lower())
        for prefix in ("method.request.querystring.", "$request.querystring."):
            if source.startswith(prefix):
                values = self.qs.get(source[len(prefix):])
                return values[-1] if values else None
        return None

    def _body(self) -> tuple[str | None, bool]:
        if not self.body:
            return None, False
        ctype = self.headers.get("content-type", "").lower()
        if not ctype or any(t in ctype for t in _TEXT_TYPES):
            try:
                return self.body.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(self.body).decode(), True

    def event_v1(self, authorizer: dict[str, Any] | None) -> dict[str, Any]:
        body, b64 = self._body()
        multi: dict[str, list[str]] = {}
        for k, v in self.headers.items():
            multi.setdefault(k, []).append(v)
        ctx: dict[str, Any] = {
            "resourcePath": self.route.path, "httpMethod": self.method, "path": self.full_path,
            "stage": self.stage, "requestId": self.request_id, "accountId": ACCOUNT,
            "apiId": self.api.api_id, "protocol": "HTTP/1.1",
            "requestTime": self.now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(self.now.timestamp() * 1000),
            "identity": {"sourceIp": self.source_ip,
                         "userAgent": self.headers.get("user-agent")},
            "domainName": "127.0.0.1", "resourceId": "local",
        }
        if authorizer is not None:
            ctx["authorizer"] = authorizer
        return {
            "resource": self.route.path, "path": self.path, "httpMethod": self.method,
            "headers": dict(self.headers) or None, "multiValueHeaders": multi or None,
            "queryStringParameters": {k: v[-1] for k, v in self.qs.items()} or None,
            "multiValueQueryStringParameters": dict(self.qs) or None,
            "pathParameters": self.path_params or None, "stageVariables": None,
            "requestContext": ctx, "body": body, "isBase64Encoded": b64,
        }

    def event_v2(self, authorizer: dict[str, Any] | None) -> dict[str, Any]:
        body, b64 = self._body()
        route_key = f"{self.route.method if self.route.method != 'ANY' else 'ANY'} " \
                    f"{self.route.path}"
        headers = {k.lower(): v for k, v in self.headers.items()}
        cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
        ctx: dict[str, Any] = {
            "accountId": ACCOUNT, "apiId": self.api.api_id, "domainName": "127.0.0.1",
            "domainPrefix": "127", "requestId": self.request_id, "routeKey": route_key,
            "stage": self.stage, "time": self.now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(self.now.timestamp() * 1000),
            "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1",
                     "sourceIp": self.source_ip, "userAgent": headers.get("user-agent", "")},
        }
        if authorizer is not None:
            ctx["authorizer"] = authorizer
        event: dict[str, Any] = {
            "version": "2.0", "routeKey": route_key, "rawPath": self.path,
            "rawQueryString": self.query, "headers": headers,
            "requestContext": ctx, "isBase64Encoded": b64,
        }
        if cookies:
            event["cookies"] = cookies
        if self.qs:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in self.qs.items()}
        if self.path_params:
            event["pathParameters"] = self.path_params
        if body is not None:
            event["body"] = body
        return event


def api_region() -> str:
    import os

    return os.environ.get("AWS_DEFAULT_REGION", "us-east-1")


class _Handler(BaseHTTPRequestHandler):
    server_ref: ApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the cloud logs invocations
        pass

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        started = time.perf_counter()
        try:
            if self.path.startswith("/_localcloud/cognito/"):
                # A user pool domain's hosted UI and OAuth endpoints (moto has none).
                from .cognito_oauth import handle as cognito_oauth

                status, headers, out = cognito_oauth(self.server_ref.cloud, self.command,
                                                     self.path, dict(self.headers.items()), body)
            elif self.path.startswith("/_localcloud/"):
                status, headers, out = _control(self.server_ref.cloud, self.command, self.path,
                                                body)
            else:
                status, headers, out = self.server_ref.handle(
                    self.command, self.path, dict(self.headers.items()), body,
                    self.client_address[0])
        except _Reply as reply:
            status, headers = reply.status, {"Content-Type": "application/json", **reply.headers}
            out = json.dumps(reply.body).encode()
        except Exception as exc:  # report, keep serving
            status, headers = 500, {"Content-Type": "application/json"}
            out = json.dumps({"message": f"localcloud error: {exc!r}"}).encode()
        self._send(status, headers, out)
        # An access line per request, as `sam local start-api` prints; quiet clouds skip it.
        if not self.path.startswith("/_localcloud/") and not self.server_ref.cloud.quiet:
            ms = (time.perf_counter() - started) * 1000
            self.server_ref.cloud._log("api", f"{self.command} {self.path} -> {status} "
                                              f"({ms:.1f} ms)")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch


def _control(cloud: LocalCloud, method: str, path: str, body: bytes
             ) -> tuple[int, dict[str, str], bytes]:
    """Control endpoints of a running local cloud (used by the CLI and by people)."""
    parts = [unquote(p) for p in urlsplit(path).path.split("/")[2:] if p]
    js = {"Content-Type": "application/json"}

    def ok(value: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
        return status, js, json.dumps(value, default=str).encode()

    if parts == ["health"]:
        return ok({"status": "ok", "endpoint": cloud.endpoint, "apiPort": cloud.api_port})
    if parts == ["outputs"]:
        return ok(cloud.outputs())
    if parts == ["schedules"]:
        return ok([{"name": s.name, "app": s.app, "logicalId": s.logical_id,
                    "expression": s.expression, "enabled": s.enabled,
                    "nextFire": s.next_fire, "fired": s.fired}
                   for s in cloud.schedules.values()])
    if len(parts) >= 3 and parts[0] == "schedules" and parts[-1] == "fire" and method == "POST":
        ident = "/".join(parts[1:-1])
        try:
            return ok(cloud.scheduler.fire(ident))
        except KeyError as exc:
            return ok({"message": str(exc.args[0])}, 404)
    if len(parts) >= 2 and parts[0] == "functions" and method == "GET":
        try:
            spec = cloud.find_function("/".join(parts[1:]))
        except KeyError as exc:
            return ok({"message": str(exc.args[0])}, 404)
        return ok({"name": spec.name, "handler": spec.handler, "codeDir": str(spec.code_dir),
                   "layers": [str(p) for p in spec.layers], "environment": spec.environment,
                   "timeout": spec.timeout, "memoryMb": spec.memory_mb, "arn": spec.arn})
    return ok({"message": f"unknown control endpoint {path}"}, 404)
