"""s3_watcher benchmark: the personal-data scan of a content sample and a key, in-process.

Every new object costs one scan of its first 64 KiB (ContentSampleBytes) and every event one
scan of its keys; these are the function's own CPU work. Baseline in the same run: a single
regex (SSNs only) over the same sample.

Run alone with `.venv/bin/python bench/s3_watcher.py` (writes bench/s3_watcher.md).
"""

from __future__ import annotations

import importlib.util
import random
import re
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _rules():
    spec = importlib.util.spec_from_file_location(
        "bench_watcher_rules", ROOT / "functions" / "s3_watcher" / "watcher" / "watcher_rules.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _sample(size: int = 65536, seed: int = 3) -> str:
    rng = random.Random(seed)
    rows = ["id,name,email,note,amount"]
    while sum(len(r) + 1 for r in rows) < size:
        name = "".join(rng.choices(string.ascii_lowercase, k=8))
        rows.append(f"{rng.randrange(10**6)},{name},{name}@example.com,"
                    f"{' '.join(rng.choices(['ok', 'paid', 'late', 'ref 12-34'], k=4))},"
                    f"{rng.uniform(1, 999):.2f}")
    return "\n".join(rows)[:size]


def _rate(fn, arg, seconds: float = 1.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn(arg)
        n += 1
    return n / (time.perf_counter() - t0)


def main() -> dict[str, float]:
    rules = _rules()
    sample = _sample()
    ssn_only = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
    r = {"sample_scans_per_s": _rate(rules.pii_counts, sample),
         "key_scans_per_s": _rate(rules.key_pii, "hr/exports/2024/customer_list_final-v2.csv"),
         "baseline_scans_per_s": _rate(lambda s: ssn_only.findall(s), sample)}
    text = f"""# s3_watcher benchmark

## Personal-data scans (bench/s3_watcher.py), in-process

| what | result |
|---|---|
| 64 KiB content sample, 4 kinds (SSN, e-mail, card + Luhn, IBAN + mod 97) | \
**{r['sample_scans_per_s']:,.0f} samples/s** ({r['sample_scans_per_s'] * 64 / 1024:.1f} MiB/s) |
| key scan (keywords + the same 4 kinds) | {r['key_scans_per_s']:,.0f} keys/s |
| baseline: one SSN regex over the same sample | {r['baseline_scans_per_s']:,.0f} samples/s |
"""
    (ROOT / "bench" / "s3_watcher.md").write_text(text)
    print(text)
    return r


if __name__ == "__main__":
    main()
