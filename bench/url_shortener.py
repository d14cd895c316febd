"""url_shortener benchmark: POST /shorten and GET /{id} (the 301) through the local API
(HTTP server -> Lambda worker -> S3 with If-None-Match / HeadObject), sequential and with 8
clients; the control endpoint /_localcloud/health (same server, no Lambda) as the baseline.

Run alone with `.venv/bin/python bench/url_shortener.py [N]` (writes bench/url_shortener.md);
`make bench` includes it.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REQUESTS = 200


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> tuple[float, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        out = json.loads(resp.read())
    return time.perf_counter() - t0, out


def _get(url: str) -> float:
    t0 = time.perf_counter()
    try:
        with _OPENER.open(url, timeout=60) as resp:
            resp.read()
    except urllib.error.HTTPError as err:  # the 301 comes back as an "error"
        if err.code != 301:
            raise
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Print the results and write them to bench/url_shortener.md."""
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else DEFAULT_REQUESTS
    sys.path.insert(0, str(ROOT))
    from localcloud.cloud import LocalCloud

    port = _free_port()
    with LocalCloud(aws_port=0, api_port=port, quiet=True, log=lambda *_: None) as cloud:
        cloud.deploy(apps={"url_shortener"})
        cloud.start_api()
        api = cloud.outputs()["url_shortener"]["ApiUrl"]
        _post(f"{api}/shorten", {"url": "https://example.com/warm"})  # worker start-up
        health = [_get(f"http://127.0.0.1:{port}/_localcloud/health") for _ in range(n)]
        posts = [_post(f"{api}/shorten", {"url": f"https://example.com/d/{i}"})
                 for i in range(n)]
        ids = [out["id"] for _, out in posts]
        gets = [_get(f"{api}/{i}") for i in ids]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: _post(f"{api}/shorten",
                                          {"url": f"https://example.com/p/{i}"}), range(n)))
        parallel_rps = n / (time.perf_counter() - t0)
    post_s = [t for t, _ in posts]
    text = "\n".join([
        "# url_shortener benchmark",
        "",
        f"{n} requests each, through the local API on 127.0.0.1; {os.cpu_count()} cores.",
        "",
        "| request | median | p95 | throughput |",
        "|---|---|---|---|",
        f"| POST /shorten, one client | {statistics.median(post_s) * 1000:.1f} ms | "
        f"{sorted(post_s)[int(0.95 * n) - 1] * 1000:.1f} ms | {n / sum(post_s):.0f} req/s |",
        f"| POST /shorten, 8 clients | - | - | {parallel_rps:.0f} req/s |",
        f"| GET /{{id}} (301), one client | {statistics.median(gets) * 1000:.1f} ms | "
        f"{sorted(gets)[int(0.95 * n) - 1] * 1000:.1f} ms | {n / sum(gets):.0f} req/s |",
        f"| baseline: GET /_localcloud/health (no Lambda) | "
        f"{statistics.median(health) * 1000:.2f} ms | - | {n / sum(health):.0f} req/s |",
        "",
    ])
    (ROOT / "bench" / "url_shortener.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
