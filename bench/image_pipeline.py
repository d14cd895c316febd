"""image_pipeline benchmark: images/s through the whole pipeline on localcloud (upload -> S3
trigger -> state machine: validate, four renditions in parallel, content check, item), and the
Pillow work alone in-process as the baseline of the same run.

Run alone with `.venv/bin/python bench/image_pipeline.py [N]` (writes bench/image_pipeline.md);
`make bench` includes it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "functions" / "image_pipeline" / "pipeline"
DEFAULT_IMAGES = 24


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


def in_process(images: list[bytes]) -> float:
    """Images/s for validate + four renditions + content check, no AWS, one core."""
    import ip_images as im

    specs = [im.RenditionSpec("thumb", 128, 128, "JPEG", "cover"),
             im.RenditionSpec("small", 320, 320, "WEBP"),
             im.RenditionSpec("medium", 1024, 1024, "JPEG"),
             im.RenditionSpec("large", 2048, 2048, "WEBP")]
    started = time.perf_counter()
    for data in images:
        im.inspect_image(data)
        outs = [im.make_rendition(data, s) for s in specs]
        im.check_content(outs[1][0])
    return len(images) / (time.perf_counter() - started)


def on_localcloud(images: list[bytes]) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud
    from localcloud.demo import DemoContext

    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"image_pipeline"})
        cloud.start_delivery()
        ctx = DemoContext(cloud, "image_pipeline")
        sfn = ctx.client("stepfunctions")
        machine = ctx.outputs["ImageStateMachineArn"]
        # Warm-up: one image, so worker start-up is not counted.
        _load(ROOT / "functions" / "image_pipeline" / "demo.py", "bench_ip_demo").upload(
            ctx, "uploads/warmup.jpg", images[0])
        _wait_all(sfn, machine, 1)
        started = time.perf_counter()
        for i, data in enumerate(images):
            ctx.client("s3").put_object(Bucket=ctx.outputs["ImagesBucketName"],
                                        Key=f"uploads/bench/{i:04d}.jpg", Body=data)
        statuses = _wait_all(sfn, machine, len(images) + 1)
        elapsed = time.perf_counter() - started
    return {"images_per_s": len(images) / elapsed, "seconds": elapsed,
            "succeeded": statuses.count("SUCCEEDED") - 1}


def _wait_all(sfn: Any, machine: str, count: int, timeout: float = 900) -> list[str]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        executions = [e for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=machine) for e in page["executions"]]
        statuses = [e["status"] for e in executions]
        if len(statuses) >= count and "RUNNING" not in statuses:
            return statuses
        time.sleep(0.1)
    raise RuntimeError("executions did not finish")


def main(argv: list[str] | None = None) -> int:
    """Print the results and write them to bench/image_pipeline.md."""
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else DEFAULT_IMAGES
    for path in (ROOT / "layers" / "common", CODE, ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    demo = _load(ROOT / "functions" / "image_pipeline" / "demo.py", "bench_ip_demo")
    images = [demo.photo(1600, 1000, seed=i) for i in range(n)]
    baseline = in_process(images)
    local = on_localcloud(images)
    text = "\n".join([
        "# image_pipeline benchmark",
        "",
        f"{n} photo-like JPEGs of 1600x1000 (~{sum(map(len, images)) // n // 1024} kB each); "
        f"{os.cpu_count()} cores.",
        "",
        "| what | images/s | notes |",
        "|---|---|---|",
        f"| whole pipeline on localcloud (upload to item READY) | {local['images_per_s']:.2f} | "
        f"{local['succeeded']}/{n} SUCCEEDED in {local['seconds']:.1f} s; 7 Lambda "
        "invocations and 4 S3 writes per image |",
        f"| baseline: same Pillow work in-process, one core | {baseline:.2f} | validate, "
        "4 renditions, content check |",
        "",
    ])
    (ROOT / "bench" / "image_pipeline.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
