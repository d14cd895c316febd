"""data_quality gate on a 1,000,000-row CSV: rows/s and peak memory, chunked against naive.

The CSV is the project's job-postings sample (14 columns, planted defects) with the seed's
four rules. Each side runs in a fresh Python process, whose peak resident memory (ru_maxrss)
is the figure; a third process that only imports the same libraries gives the floor.

1. The gate's `judge` (what GateFunction runs): 50,000-row chunks, Parquet written as it goes.
2. Baseline, same run: pandas reads the whole file, the same rules judge the whole frame, the
   same two Parquet files are written.

Both must find the same counts. Run alone: .venv/bin/python bench/data_quality.py [rows]
(make bench runs it from bench/run.py); results go to bench/data_quality.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CODE = ROOT / "functions" / "data_quality" / "gate"
for _path in (ROOT / "layers" / "common", CODE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

ROWS = 1_000_000


def _demo() -> Any:
    spec = importlib.util.spec_from_file_location("data_quality_demo_bench",
                                                  ROOT / "functions/data_quality/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(mode: str, csv_path: str, out_dir: str) -> dict[str, Any]:
    """One measured side, in its own process (called with --child)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from dq_expectations import compile_rules
    from dq_gate import COMMENTS, SEPARATOR, judge

    rules = compile_rules(_demo().seed_rules())
    if mode == "imports":
        return {"peak_mb": _peak_mb()}
    started = time.perf_counter()
    if mode == "gate":
        # judge closes each stream it opens (it reads the file more than once).
        result = judge(lambda: open(csv_path, "rb"), rules,  # noqa: SIM115
                       Path(out_dir, "a.parquet"), Path(out_dir, "r.parquet"))
        counts = {c.rule.column: c.unexpected for c in result.counts}
        return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(),
                "rows": result.rows, "accepted": result.accepted, "counts": counts}
    # naive: the whole file in one DataFrame
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_values=[""])
    in_memory_mb = frame.memory_usage(deep=True).sum() / 1e6
    comments = np.full(len(frame), None, dtype=object)
    counts = {}
    for rule in rules:
        failed = ~rule.check(frame[rule.column])
        counts[rule.column] = int(failed.sum())
        for i in np.flatnonzero(failed):
            comments[i] = rule.reject_msg if comments[i] is None else (
                comments[i] + SEPARATOR + rule.reject_msg)
    bad = pd.notna(comments)
    pq.write_table(pa.Table.from_pandas(frame[~bad], preserve_index=False),
                   Path(out_dir, "a.parquet"))
    pq.write_table(pa.Table.from_pandas(frame[bad].assign(**{COMMENTS: comments[bad]}),
                                        preserve_index=False), Path(out_dir, "r.parquet"))
    return {"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "rows": len(frame),
            "accepted": int((~bad).sum()), "counts": counts, "frame_mb": in_memory_mb}


def _run_child(mode: str, csv_path: Path, out_dir: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(csv_path),
                          str(out_dir)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(rows: int = ROWS) -> int:
    demo = _demo()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp, "postings.csv")
        expected = demo.Expected()
        print(f"benchmark: data_quality, writing a {rows:,}-row CSV ...", flush=True)
        with open(csv_path, "w", newline="") as out:
            demo.write_csv(out, demo.generate(rows, 11, expected))
        size_mb = csv_path.stat().st_size / 1e6
        print("benchmark: data_quality, chunked gate vs whole-file pandas ...", flush=True)
        floor = _run_child("imports", csv_path, Path(tmp))
        gate = _run_child("gate", csv_path, Path(tmp))
        naive = _run_child("naive", csv_path, Path(tmp))
    for side in (gate, naive):
        if side["counts"] != expected.per_rule or side["accepted"] != expected.accepted:
            raise SystemExit(f"wrong counts: {side} vs {expected.per_rule}")
    lines = [
        "# data_quality benchmark",
        "",
        f"Measured by `.venv/bin/python bench/data_quality.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}. {rows:,} rows x 14 columns ({size_mb:.0f} MB CSV), "
        f"the seed's four rules, {expected.rejected:,} rows rejected; both sides found the "
        f"generator's exact counts.",
        "",
        "| what | gate (50,000-row chunks) | naive whole-file pandas (same run) | ratio |",
        "|---|---|---|---|",
        f"| rows/s | {rows / gate['seconds']:,.0f} ({gate['seconds']:.1f} s) | "
        f"{rows / naive['seconds']:,.0f} ({naive['seconds']:.1f} s) | "
        f"{naive['seconds'] / gate['seconds']:.2f}x |",
        f"| peak resident memory | {gate['peak_mb']:.0f} MB | {naive['peak_mb']:.0f} MB | "
        f"{naive['peak_mb'] / gate['peak_mb']:.1f}x |",
        f"| above the libraries' own ({floor['peak_mb']:.0f} MB after imports) | "
        f"{gate['peak_mb'] - floor['peak_mb']:.0f} MB | "
        f"{naive['peak_mb'] - floor['peak_mb']:.0f} MB | - |",
        f"| the file as one DataFrame (memory_usage deep) | - | {naive['frame_mb']:.0f} MB | - |",
        "",
    ]
    text = "\n".join(lines)
    (ROOT / "bench" / "data_quality.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(*sys.argv[2:5])))
        sys.exit(0)
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS))
