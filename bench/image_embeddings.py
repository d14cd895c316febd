"""image_embeddings worker throughput and memory: images/s per core on CPU, peak memory.

Each setting runs in a fresh process (MXNet fixes its thread pool at import) doing what
EmbedFunction does per batch, minus S3 and DynamoDB: decode + preprocess 96 generated 640x480
JPEGs and embed them in mini-batches of 32 with the exported ResNet-18 features (seeded
weights). OMP_NUM_THREADS=1 is one core; then every core. Peak memory is the process's
VmHWM (what Lambda's "Max Memory Used" reports), model loaded, after the whole batch.

Run alone: .venv/bin/python bench/image_embeddings.py (make bench runs it from bench/run.py);
results go to bench/image_embeddings.md.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMBED = ROOT / "functions" / "image_embeddings" / "embed"
OUT = Path(__file__).resolve().parent / "image_embeddings.md"
IMAGES, MINI_BATCH = 96, 32

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1])
import numpy as np
import embedder, sample_images
from pathlib import Path
folder = Path(sys.argv[2])
net = embedder.Embedder((folder / "model-symbol.json").read_bytes(),
                        (folder / "model-0000.params").read_bytes())
data = [sample_images.encode(sample_images.smooth(i, 640, 480)) for i in range(int(sys.argv[3]))]
net.embed(np.stack([embedder.preprocess(data[0], 10**8)]))  # warm-up: first pass allocates
mini = int(sys.argv[4])
started = time.perf_counter()
for s in range(0, len(data), mini):
    net.embed(np.stack([embedder.preprocess(d, 10**8) for d in data[s:s + mini]]))
seconds = time.perf_counter() - started
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) // 1024
print(json.dumps({"seconds": seconds, "images": len(data), "peak_mb": peak}))
"""


def _run(folder: Path, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-c", CHILD, str(EMBED), str(folder), str(IMAGES),
                           str(MINI_BATCH)], capture_output=True, text=True, env=env,
                          check=True, timeout=900)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(EMBED))
    import export_model

    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        export_model.export_files(7, Path(tmp))
        one = _run(Path(tmp), 1)
        every = _run(Path(tmp), cores)
    load = os.getloadavg()[0]
    rate1, rate_all = one["images"] / one["seconds"], every["images"] / every["seconds"]
    lines = [
        "# image_embeddings benchmark",
        "",
        f"{IMAGES} generated 640x480 JPEGs, decode + preprocess + ResNet-18 features in "
        f"mini-batches of {MINI_BATCH}, mxnet 1.9.1 on CPU; "
        f"{platform.processor() or platform.machine()}, {cores} cores, load average "
        f"{load:.2f} at the end.",
        "",
        "| threads | wall time | images/s | images/s per core | peak memory (VmHWM) |",
        "|---|---|---|---|---|",
        f"| 1 | {one['seconds']:.2f} s | {rate1:.1f} | {rate1:.1f} | {one['peak_mb']} MB |",
        f"| {cores} | {every['seconds']:.2f} s | {rate_all:.1f} | {rate_all / cores:.1f} | "
        f"{every['peak_mb']} MB |",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
