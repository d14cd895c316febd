"""document_watermark benchmark: time per document from GET /documents/{key} to the 302
(JWT check, access log, Object Lambda function: download, convert, stamp; copy to the temporary
bucket, presign) on localcloud, per kind; baseline in the same run: the same conversion and
stamping in-process.

Run alone with `.venv/bin/python bench/document_watermark.py [N]` (writes
bench/document_watermark.md); `make bench` includes it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROUNDS = 10


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    """Print the results and write them to bench/document_watermark.md."""
    argv = sys.argv[1:] if argv is None else argv
    rounds = int(argv[0]) if argv else DEFAULT_ROUNDS
    for path in (ROOT / "layers" / "common", ROOT / "functions" / "document_watermark" /
                 "watermark", ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from dw_render import Watermark, render

    from localcloud.cloud import LocalCloud
    from localcloud.demo import DemoContext

    demo = _load(ROOT / "functions" / "document_watermark" / "demo.py", "bench_dw_demo")
    docs = demo.documents()
    mark = Watermark("alice@example.com", "alice - bench")
    local_ms: dict[str, float] = {}
    for key, (body, ctype, _) in docs.items():
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            render(body, key, ctype, mark)
            times.append(time.perf_counter() - t0)
        local_ms[key] = statistics.median(times) * 1000
    api_ms: dict[str, float] = {}
    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"document_watermark"})
        cloud.start_api()
        ctx = DemoContext(cloud, "document_watermark")
        idp = demo.IdentityProvider()
        demo.setup(ctx, idp)
        token = idp.token(lifetime=3600)
        url = ctx.outputs["ApiUrl"]
        demo.get(f"{url}/documents/reports/notes.txt", token)  # worker start-up
        for key in docs:
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                status, _, _ = demo.get(f"{url}/documents/{key}", token)
                times.append(time.perf_counter() - t0)
                assert status == 302, status
            api_ms[key] = statistics.median(times) * 1000
    lines = ["# document_watermark benchmark", "",
             f"Median of {rounds} requests per document; {os.cpu_count()} cores.", "",
             "| document | size | GET -> 302 on localcloud | baseline: convert + stamp "
             "in-process |", "|---|---|---|---|"]
    for key, (body, _, _) in docs.items():
        lines.append(f"| {key} | {len(body):,} B | {api_ms[key]:.0f} ms | "
                     f"{local_ms[key]:.0f} ms |")
    text = "\n".join(lines + [""])
    (ROOT / "bench" / "document_watermark.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
