"""crispr_targets off-target scoring throughput: numpy against pure Python, same run, same data.

A "target-chunk comparison" is what one Map item does per target: every PAM site (both
strands) of one 250 kb genome chunk compared with one 20-nt protospacer, counting up to k=3
mismatches. Both sides include finding the chunk's PAM sites, as the score step does. The
numpy side scores 200 targets against all 8 chunks of the 2 Mb synthetic genome; the
pure-Python brute force (genome/brute_force.py, the tests' reference) scores 3 of those
targets against 2 chunks, and its counts must equal numpy's.

Run alone: .venv/bin/python bench/crispr_targets.py (make bench runs it from bench/run.py);
results go to bench/crispr_targets.md.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for _folder in ("workflow", "genome"):
    _path = str(ROOT / "functions" / "crispr_targets" / _folder)
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
from brute_force import brute_force  # noqa: E402
from offtargets import chunk_sites, score_batch  # noqa: E402
from synthetic_genome import make_genome  # noqa: E402

CHUNK = 250_000
K = 3


def _chunks(sequence: str) -> list[tuple[str, int, int]]:
    return [(sequence[s:s + CHUNK + 22], s, min(CHUNK, len(sequence) - s))
            for s in range(0, len(sequence), CHUNK)]


def run(numpy_targets: int = 200, python_targets: int = 3, python_chunks: int = 2,
        repeats: int = 5) -> dict[str, Any]:
    """Rates in target-chunk comparisons per second (best of `repeats` for numpy, of 2 for
    pure Python: the machine is shared, the best run is the least disturbed one)."""
    genome = make_genome(seed=7, length=2_000_000, chunk_size=CHUNK)
    rng = random.Random(1)
    targets = list(genome.guides) + ["".join(rng.choice("ACGT") for _ in range(20))
                                     for _ in range(numpy_targets - len(genome.guides))]
    chunks = _chunks(genome.sequence)

    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        counts = []
        sites = 0
        for text, start, core in chunks:
            result = score_batch(targets, chunk_sites(text, start, core), K)
            counts.append(result.counts)
            sites += result.sites
        best = min(best, time.perf_counter() - started)
    numpy_comparisons = len(targets) * len(chunks)

    python_s = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        python_counts = [brute_force(text, targets[:python_targets], K, start, core)
                         for text, start, core in chunks[:python_chunks]]
        python_s = min(python_s, time.perf_counter() - started)
    python_comparisons = python_targets * python_chunks
    for c, per_chunk in enumerate(python_counts):
        for t, ref in enumerate(per_chunk):
            assert ref["counts"] == counts[c][t], "numpy and pure Python disagree"

    numpy_rate = numpy_comparisons / best
    python_rate = python_comparisons / python_s
    return {
        "numpy_rate": numpy_rate, "numpy_comparisons": numpy_comparisons, "numpy_s": best,
        "python_rate": python_rate, "python_comparisons": python_comparisons,
        "python_s": python_s, "speedup": numpy_rate / python_rate,
        "sites_per_chunk": sites / len(chunks), "chunks": len(chunks),
        "site_rate": numpy_rate * sites / len(chunks),
    }


def markdown_rows(result: dict[str, Any]) -> list[str]:
    """Rows for bench/results.md (same columns as bench/run.py's table)."""
    return [
        f"| crispr_targets off-target scoring, target-chunk comparisons/s (250 kb chunk, "
        f"{result['sites_per_chunk']:,.0f} PAM sites, k={K}; {result['numpy_comparisons']} "
        f"comparisons) | {result['numpy_rate']:,.0f}/s numpy "
        f"({result['site_rate'] / 1e6:,.0f} M site comparisons/s) | pure Python "
        f"{result['python_rate']:,.2f}/s ({result['python_comparisons']} comparisons) | "
        f"{result['speedup']:,.0f}x | - |",
    ]


def main() -> int:
    """Measure, print and write bench/crispr_targets.md."""
    print("benchmark: crispr_targets off-target scoring ...", flush=True)
    result = run()
    text = "\n".join([
        "# crispr_targets benchmark",
        "",
        f"Measured by `make bench` (bench/crispr_targets.py) on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy "
        f"{np.__version__}, {time.strftime('%Y-%m-%d')}; one process, one core.",
        "",
        "| what | result | baseline (same run) | ratio | target |",
        "|---|---|---|---|---|",
        *markdown_rows(result),
        "",
    ])
    (ROOT / "bench" / "crispr_targets.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
