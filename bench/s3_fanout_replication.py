"""s3_fanout_replication benchmark: 1,000 objects fanned out to 3 destinations on localcloud.

Uploads 1,000 small objects (1 KiB) to the source bucket and times until all 3,000 replicas
exist: every upload goes S3 -> SNS -> three asynchronous Lambda invocations -> CopyObject, on
the real handlers in localcloud's workers. Baseline in the same run: the same 3,000 CopyObject
calls made directly by one client against the same embedded S3 (no events, no Lambda).

Run alone with `.venv/bin/python bench/s3_fanout_replication.py` (writes
bench/s3_fanout_replication.md); `make bench` includes it.
"""

from __future__ import annotations

import platform
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OBJECTS = 1000
SIZE = 1024


def _count(s3, bucket: str, prefix: str) -> int:
    n = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        n += page.get("KeyCount", 0)
    return n


def measure(objects: int = OBJECTS) -> dict[str, float]:
    from localcloud.cloud import LocalCloud

    body = b"x" * SIZE
    with LocalCloud(aws_port=0, api_port=0, quiet=True, log=lambda *_: None) as cloud:
        cloud.deploy(apps={"s3_fanout_replication"})
        cloud.start_delivery()
        out = cloud.outputs()["s3_fanout_replication"]
        s3, source = cloud.client("s3"), out["SourceBucketName"]
        dests = out["DestinationBucketNames"].split(",")
        # Warm: one object through every function (cold starts are not the figure).
        s3.put_object(Bucket=source, Key="warm/0", Body=body)
        cloud.wait_idle(60)
        keys = [f"bench/{i:05d} obj+{i}.dat" for i in range(objects)]
        t0 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket=source, Key=k, Body=body), keys))
        uploaded = time.perf_counter() - t0
        deadline = time.time() + 600
        while time.time() < deadline:
            cloud.wait_idle(5)
            if all(_count(s3, b, "bench/") == objects for b in dests):
                break
        fanout = time.perf_counter() - t0
        replicas = sum(_count(s3, b, "bench/") for b in dests)
        failures = len(cloud.async_failures)
        # Baseline: the same copies made directly, one client, 8 threads.
        t1 = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda kb: s3.copy_object(
                Bucket=kb[1], Key=f"direct/{kb[0]}", CopySource={"Bucket": source, "Key": kb[0]},
                MetadataDirective="COPY"), [(k, b) for k in keys for b in dests]))
        direct = time.perf_counter() - t1
    return {"objects": objects, "destinations": len(dests), "replicas": replicas,
            "failures": failures, "upload_s": uploaded, "fanout_s": fanout,
            "objects_per_s": objects / fanout, "replicas_per_s": replicas / fanout,
            "direct_s": direct, "direct_copies_per_s": objects * len(dests) / direct}


def main() -> dict[str, float]:
    r = measure()
    text = f"""# s3_fanout_replication benchmark

## 1,000 objects to 3 destinations on localcloud (bench/s3_fanout_replication.py)

{platform.machine()}, {_cores()} cores. 1 KiB objects uploaded with 8 threads; the clock runs
from the first upload until every replica exists (S3 -> SNS -> 3 async invocations each ->
CopyObject). Baseline (same run): the same CopyObject calls made directly, 8 threads.

| what | result |
|---|---|
| objects replicated | {r['objects']:,} x {r['destinations']} = {r['replicas']:,} replicas, \
{r['failures']} failed invocations |
| uploads alone | {r['upload_s']:.1f} s |
| upload to last replica | {r['fanout_s']:.1f} s |
| **fan-out throughput** | **{r['objects_per_s']:.0f} objects/s** \
({r['replicas_per_s']:.0f} replicas/s) |
| baseline: direct CopyObject | {r['direct_copies_per_s']:.0f} copies/s ({r['direct_s']:.1f} s) |
"""
    (ROOT / "bench" / "s3_fanout_replication.md").write_text(text)
    print(text)
    return r


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    main()
