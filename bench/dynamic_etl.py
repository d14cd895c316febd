"""dynamic_etl at the seed's scale: 3 campaign keys x 20,000 rows x 85 columns.

1. The whole run on the local cloud: one execution of the state machine (Start, a Map over the
   three keys at the stack's MaxConcurrency, Summarize, SNS), CSV to S3 and COPY into the
   embedded SQLite warehouse; the execution's wall time, and the largest Execute invocation's
   memory (the REPORT lines).
2. Baseline, same run: the same three keys through the same functions called in-process one
   after the other (no cloud, no workers; the seed's one-key-after-the-other design).

Run alone: .venv/bin/python bench/dynamic_etl.py (make bench runs it from bench/run.py);
results go to bench/dynamic_etl.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "layers" / "common", ROOT / "functions" / "dynamic_etl" / "etl"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

KEYS, ROWS, WIDTH = 3, 20_000, 85
DAY = "2026-06-15"


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


demo = _load(ROOT / "functions" / "dynamic_etl" / "demo.py", "dynamic_etl_demo_bench")


def _keys(columns: list[str]) -> list[dict[str, Any]]:
    """Three keys, each with its own source file; all 85 columns out, typed, plus revenue."""
    typed = {"id": "integer", "units": "integer", "unit_price": "real", "sale_date": "date"}
    rules = {
        "filters": [{"column": "units", "op": "not_null"}],
        "derive": [{"name": "revenue", "op": "multiply", "args": ["units", "unit_price"]}],
        "columns": [*({"name": c, "type": typed.get(c, "text")} for c in columns),
                    {"name": "revenue", "type": "real"}],
    }
    return [{"campaign_key": f"K{i}", "start_date": "2026-01-01", "end_date": "2026-12-31",
             "target_table": "campaign_sales", "rules": rules,
             "source": {"type": "s3", "key": f"sources/k{i}.csv"}} for i in range(1, KEYS + 1)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_localcloud(sources: dict[str, bytes], keys: list[dict[str, Any]]) -> dict[str, Any]:
    from localcloud.cloud import LocalCloud

    memory: list[int] = []

    def log(name: str, line: str) -> None:
        match = re.search(r"Max Memory Used: (\d+) MB", line)
        if match and "ExecuteFunction" in name:
            memory.append(int(match.group(1)))

    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True, log=log) as cloud:
        cloud.deploy(apps={"dynamic_etl"})
        out = cloud.outputs()["dynamic_etl"]
        s3, ddb = cloud.client("s3"), cloud.client("dynamodb")
        for key, body in sources.items():
            s3.put_object(Bucket=out["DataBucketName"], Key=key, Body=body)
        for item in keys:
            ddb.put_item(TableName=out["KeysTableName"], Item=demo.to_dynamodb(item))
        sfn = cloud.client("stepfunctions")
        t = time.perf_counter()
        arn = sfn.start_execution(stateMachineArn=out["EtlStateMachineArn"],
                                  name=f"bench-{uuid.uuid4()}",
                                  input=json.dumps({"date": DAY}))["executionArn"]
        described = demo.wait_for_execution(sfn, arn, timeout=600)
        elapsed = time.perf_counter() - t
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        summary = json.loads(described.get("output") or "{}")
        if described["status"] != "SUCCEEDED":
            raise SystemExit(f"benchmark run ended {described['status']}: {described}")
        loaded = demo.warehouse_counts(Path(cloud.state_dir) / out["WarehouseSqliteFile"],
                                       ["campaign_sales"])["campaign_sales"]
    when = {e["type"]: e["timestamp"] for e in events if e["type"] in (
        "ExecutionStarted", "MapStateEntered", "MapStateExited", "ExecutionSucceeded")}
    phases = {
        "start": (when["MapStateEntered"] - when["ExecutionStarted"]).total_seconds(),
        "map": (when["MapStateExited"] - when["MapStateEntered"]).total_seconds(),
        "end": (when["ExecutionSucceeded"] - when["MapStateExited"]).total_seconds(),
    }
    return {"seconds": elapsed, "rows": summary["rows_total"], "loaded": loaded,
            "max_memory_mb": max(memory) if memory else None, "phases": phases}


def bench_in_process(sources: dict[str, bytes], keys: list[dict[str, Any]]) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from common.warehouse import SqliteWarehouse

    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
    app = _load(ROOT / "functions" / "dynamic_etl" / "etl" / "app.py", "dynamic_etl_app_bench")
    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="data")
        for key, body in sources.items():
            s3.put_object(Bucket="data", Key=key, Body=body)
        wh = SqliteWarehouse(Path(tmp) / "wh.sqlite", s3=s3)
        t = time.perf_counter()
        plan = app.plan_run(keys, DAY)
        wh.recreate_tables(plan.tables)
        rows = sum(app.execute_key({"run_id": "r", "key": key}, s3=s3, bucket="data",
                                   warehouse=wh, env={})["rows"] for key in plan.keys)
        elapsed = time.perf_counter() - t
    return {"seconds": elapsed, "rows": rows}


def main() -> int:
    columns = demo.source_columns(WIDTH)
    keys = _keys(columns)
    sources = {}
    for i, key in enumerate(keys):
        rows = demo.generate_rows({key["campaign_key"]: ("2026-01-01", "2026-12-31")}, ROWS,
                                  width=WIDTH, seed=i)
        sources[key["source"]["key"]] = demo.rows_to_csv(rows, columns)
    size_mb = sum(len(b) for b in sources.values()) / 1e6
    print(f"benchmark: dynamic_etl, {KEYS} keys x {ROWS} rows x {WIDTH} columns "
          f"({size_mb:.0f} MB of CSV) ...", flush=True)
    cloud = bench_localcloud(sources, keys)
    base = bench_in_process(sources, keys)
    if not cloud["rows"] == cloud["loaded"] == base["rows"]:
        raise SystemExit(f"row counts differ: {cloud} vs {base}")
    lines = [
        "# dynamic_etl benchmark",
        "",
        f"Measured by `.venv/bin/python bench/dynamic_etl.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. {KEYS} keys x {ROWS:,} rows x {WIDTH} columns "
        f"({size_mb:.0f} MB of source CSV), {cloud['rows']:,} rows loaded.",
        "",
        "| what | result | baseline (same run) | ratio |",
        "|---|---|---|---|",
        f"| whole run on the local cloud (state machine, Map, S3, SQLite COPY) | "
        f"{cloud['seconds']:.1f} s | same keys in-process, one after the other "
        f"{base['seconds']:.1f} s | {cloud['seconds'] / base['seconds']:.2f}x |",
        f"| of which: Start step / Map over the keys / Summarize + SNS | "
        f"{cloud['phases']['start']:.1f} s / {cloud['phases']['map']:.1f} s / "
        f"{cloud['phases']['end']:.1f} s | - | - |",
        f"| largest Execute invocation, resident memory | {cloud['max_memory_mb']} MB | "
        f"MemorySize 1024 MB | - |",
        "",
        "The seed's whole run took about 5 minutes on AWS after the move to Step Functions.",
        "",
    ]
    text = "\n".join(lines)
    (ROOT / "bench" / "dynamic_etl.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
