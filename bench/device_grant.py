"""device_grant benchmark, through localcloud's API server: POST /token issuing codes
(Basic auth -> DescribeUserPoolClient, cached -> TransactWriteItems), a poll answered
authorization_pending, and one whole device flow over HTTP (codes -> /device -> hosted UI
sign-in -> /callback's code exchange with the local Cognito token endpoint -> the token poll,
without the interval wait); the control endpoint /_localcloud/health as the baseline.

Run alone with `.venv/bin/python bench/device_grant.py [N]` (writes bench/device_grant.md);
`make bench` includes it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REQUESTS = 200
FLOWS = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ms(values: list[float]) -> str:
    values = sorted(values)
    p50 = statistics.median(values) * 1000
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else DEFAULT_REQUESTS
    sys.path.insert(0, str(ROOT))
    import requests

    from localcloud.cloud import LocalCloud

    spec = importlib.util.spec_from_file_location("device_grant_demo_bench",
                                                  ROOT / "functions/device_grant/demo.py")
    assert spec and spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    port = _free_port()
    with LocalCloud(aws_port=0, api_port=port, quiet=True, log=lambda *_: None) as cloud:
        cloud.deploy(apps={"device_grant"})
        cloud.start_api()
        out = cloud.outputs()["device_grant"]
        idp = cloud.client("cognito-idp")
        demo.create_user(idp, out["UserPoolId"])
        auth = demo.client_credentials(idp, out)
        # A connection per request (as url_shortener's benchmark): with keep-alive, the
        # server's separate header and body writes meet the client's delayed ACK (~40 ms).
        health = f"http://127.0.0.1:{port}/_localcloud/health"
        base, issue, pend = [], [], []
        demo.request_codes(out, auth)  # warm the worker
        for _ in range(n):
            t0 = time.perf_counter()
            requests.get(health, timeout=30)
            base.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            codes = requests.post(out["TokenEndpoint"], auth=auth, timeout=30).json()
            issue.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            resp = requests.post(out["TokenEndpoint"], auth=auth, timeout=30, data={
                "grant_type": demo.DEVICE_GRANT, "device_code": codes["device_code"]})
            pend.append(time.perf_counter() - t0)
            assert resp.json() == {"error": "authorization_pending"}, resp.text
        flows = []
        for _ in range(FLOWS):
            t0 = time.perf_counter()
            codes = demo.request_codes(out, auth).json()
            page = demo.decide_over_http(codes["verification_uri"], codes["user_code"],
                                         "authorize")
            assert "Device authorised" in page.text
            # no earlier poll of this code: the first one is answered at once
            resp = demo.poll(out, auth, codes["device_code"])
            assert resp.status_code == 200, resp.text
            flows.append(time.perf_counter() - t0)
    text = (
        "# device_grant benchmark\n\n"
        f"`.venv/bin/python bench/device_grant.py {n}` ({os.cpu_count()} CPUs), "
        "through localcloud's API server, warm worker.\n\n"
        "| what | latency |\n|---|---|\n"
        f"| GET /_localcloud/health (baseline, no Lambda), {n} | {_ms(base)} |\n"
        f"| POST /token, codes issued, {n} | {_ms(issue)} |\n"
        f"| POST /token, poll -> authorization_pending, {n} | {_ms(pend)} |\n"
        f"| whole flow over HTTP (codes, /device, sign-in, /callback exchange, tokens), "
        f"{FLOWS} | {_ms(flows)} |\n")
    (ROOT / "bench" / "device_grant.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
