"""batch_inference worker throughput: rows/s with 1 scoring process against every core.

The worker's own code (container.run_local -> pool.run_tasks -> scoring.score_bytes) scores 8
generated CSV files of 50,000 rows each (read, predict with the shipped churn MLP, write with
the prediction column) from and to a temporary folder, so S3 time does not blur the CPU
scaling. Best of 3 runs per setting; the machine's load average is recorded with the results,
since other work on a shared machine takes cores away.

Run alone: .venv/bin/python bench/batch_inference.py (make bench runs it from bench/run.py);
results go to bench/batch_inference.md.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "functions" / "batch_inference" / "worker"
if str(WORKER) not in sys.path:
    sys.path.insert(0, str(WORKER))

import container  # noqa: E402
import datagen  # noqa: E402
import process_pool as pool  # noqa: E402
import train_model  # noqa: E402

FILES, ROWS, REPEATS = 8, 50_000, 3
OUT = Path(__file__).resolve().parent / "batch_inference.md"


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _best(model: Path, src: Path, dst: Path, processes: int) -> tuple[float, float, int]:
    """(best wall seconds, CPU seconds of that run, rows)."""
    best, cpu, rows = float("inf"), 0.0, 0
    for _ in range(REPEATS):
        started, cpu0 = time.perf_counter(), _cpu()
        summary = container.run_local(model, src, dst, processes)
        wall = time.perf_counter() - started
        if wall < best:
            best, cpu = wall, _cpu() - cpu0
        assert summary["files_failed"] == 0, summary
        rows = summary["rows_scored"]
    return best, cpu, rows


def main() -> None:
    cores = pool.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        for i in range(FILES):
            datagen.customers(ROWS, seed=100 + i, id_offset=i * ROWS).to_csv(
                src / f"part-{i}.csv", index=False)
        load_before = os.getloadavg()[0]
        one, one_cpu, rows = _best(train_model.SHIPPED, src, dst, 1)
        every, every_cpu, _ = _best(train_model.SHIPPED, src, dst, cores)
        load_after = os.getloadavg()[0]
    speedup = one / every
    lines = [
        "# batch_inference benchmark",
        "",
        f"{FILES} CSV files x {ROWS:,} rows, shipped churn MLP, best of {REPEATS}; "
        f"{platform.processor() or platform.machine()}, {cores} cores, Python "
        f"{platform.python_version()}; load average {load_before:.2f} before, "
        f"{load_after:.2f} after.",
        "",
        "| scoring processes | wall time | rows/s | speed-up | CPU seconds used |",
        "|---|---|---|---|---|",
        f"| 1 | {one:.2f} s | {rows / one:,.0f} | 1.00x | {one_cpu:.2f} |",
        f"| {cores} (every core) | {every:.2f} s | {rows / every:,.0f} | {speedup:.2f}x | "
        f"{every_cpu:.2f} |",
        "",
        f"Parallel efficiency {speedup / cores:.0%} of linear on {cores} cores. CPU seconds "
        "close to the wall time x processes mean the cores were ours; far below it, other "
        "work on the machine had them (see the load average).",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
