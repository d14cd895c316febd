"""gateway_refresh benchmark: RefreshCache calls saved by coalescing, and planning speed.

10,000 S3 changes (a burst over 3 shares, 400 folders) are planned as the function does for
batches of BatchSize (1,000) messages; the figure is RefreshCache calls against one call per
event (the seed's "any code that creates or removes should call RefreshCache"), and changes/s
through the planning code (in-process; the gateway call itself is the edge, not measured).

Run alone with `.venv/bin/python bench/gateway_refresh.py` (writes bench/gateway_refresh.md).
"""

from __future__ import annotations

import importlib.util
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANGES, BATCH = 10_000, 1000


def _plan_module():
    spec = importlib.util.spec_from_file_location(
        "bench_refresh_plan", ROOT / "functions" / "gateway_refresh" / "refresh" /
        "refresh_plan.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> dict[str, float]:
    rp = _plan_module()
    rng = random.Random(7)
    arn = "arn:aws:storagegateway:us-east-1:123456789012:share/share-{}"
    shares = [rp.Share(arn.format(1), "b", "projects/"), rp.Share(arn.format(2), "b",
                                                                   "projects/team3/"),
              rp.Share(arn.format(3), "b", "media/")]
    keys = [f"{rng.choice(['projects', 'media'])}/team{rng.randrange(20)}/dir{rng.randrange(20)}"
            f"/f{i}.dat" for i in range(CHANGES)]
    changes = [rp.Change(f"m{i}", "b", k, "ObjectCreated:Put") for i, k in enumerate(keys)]
    t = time.perf_counter()
    calls, recursive = 0, 0
    for i in range(0, CHANGES, BATCH):
        refreshes, _ = rp.plan(changes[i:i + BATCH], shares)
        calls += len(refreshes)
        recursive += sum(r.recursive for r in refreshes)
    elapsed = time.perf_counter() - t
    per_event = sum(1 for c in changes for s in shares if s.covers(c.bucket, c.key))
    r = {"changes": CHANGES, "calls": calls, "per_event_calls": per_event,
         "recursive": recursive, "changes_per_s": CHANGES / elapsed}
    text = f"""# gateway_refresh benchmark

## {CHANGES:,} S3 changes, batches of {BATCH:,}, 3 shares (bench/gateway_refresh.py)

| what | result |
|---|---|
| RefreshCache calls | **{calls}** ({recursive} recursive, lifted past 50 folders) |
| one call per event and share (baseline) | {per_event:,} |
| planning speed, in-process | {r['changes_per_s']:,.0f} changes/s |
"""
    (ROOT / "bench" / "gateway_refresh.md").write_text(text)
    print(text)
    return r


if __name__ == "__main__":
    main()
