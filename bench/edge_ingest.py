"""edge_ingest benchmark: rows/s and peak memory of the one-pass processing, in-process.

A 200,000-row sensor file (the demo's generator, planted problems included) goes through
`edge_processing.process` with the stack's default rules; peak memory is measured with
tracemalloc, since the function must fit 128 MB whatever the file's size. Baseline in the
same run: a bare `csv.reader` pass over the same lines (the floor of any CSV processing).

Run alone with `.venv/bin/python bench/edge_ingest.py` (writes bench/edge_ingest.md);
`make bench` includes it.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import sys
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
INGEST = ROOT / "functions" / "edge_ingest" / "ingest"
ROWS = 200_000


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def measure(rows: int = ROWS) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from localcloud import cfn_yaml

    processing = _load(INGEST / "edge_processing.py", "bench_edge_processing")
    demo = _load(ROOT / "functions" / "edge_ingest" / "demo.py", "bench_edge_demo")
    params = cfn_yaml.load(ROOT / "stacks" / "edge_ingest.yaml")["Parameters"]
    rules = processing.Rules.from_dict(json.loads(params["IngestRules"]["Default"]))
    data = demo.sensor_file(rows, seed=5).text.encode()
    chunks = [data[i:i + 65536] for i in range(0, len(data), 65536)]

    t = time.perf_counter()
    for _ in csv.reader(processing.decoded_lines(chunks)):
        pass
    baseline = time.perf_counter() - t

    class Null(io.TextIOBase):
        def write(self, s: str) -> int:
            return len(s)

    t = time.perf_counter()
    report = processing.process(processing.decoded_lines(iter(chunks)), Null(), rules)
    elapsed = time.perf_counter() - t
    # A second run for memory: tracemalloc slows allocation-heavy code severalfold.
    tracemalloc.start()
    processing.process(processing.decoded_lines(iter(chunks)), Null(), rules)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rows": rows, "mb": len(data) / 1e6, "rows_per_s": rows / elapsed,
            "mb_per_s": len(data) / 1e6 / elapsed, "baseline_rows_per_s": rows / baseline,
            "peak_mib": peak / 2**20, "findings": len(report.findings),
            "rows_out": report.rows_out}


def main() -> dict[str, float]:
    r = measure()
    text = f"""# edge_ingest benchmark

## {r['rows']:,}-row sensor file through filter/clean/summarise/scan (bench/edge_ingest.py)

In-process, stack default rules, file of {r['mb']:.1f} MB in 64 KiB chunks (as read from S3);
peak memory by tracemalloc (Python allocations, input chunks excluded).

| what | result |
|---|---|
| processing | **{r['rows_per_s']:,.0f} rows/s** ({r['mb_per_s']:.1f} MB/s) |
| peak memory while processing | {r['peak_mib']:.2f} MiB |
| rows kept / findings | {r['rows_out']:,} / {r['findings']} |
| baseline: bare csv.reader pass | {r['baseline_rows_per_s']:,.0f} rows/s |
"""
    (ROOT / "bench" / "edge_ingest.md").write_text(text)
    print(text)
    return r


if __name__ == "__main__":
    main()
