"""The image_embeddings scenario for `localcloud demo`.

1. ModelFunction exports the ResNet-18 features model (seeded weights) to models/resnet18-v1/.
2. 14 generated images under images/ and catalog/ (JPEG, PNG, GIF, one grayscale, resized
   copies), plus a text file named .jpg and a truncated JPEG.
3. POST /runs {"Paths": ["images", "catalog"], "BatchSize": 5}; poll GET /runs/{id}; check the
   counts (every image embedded, the two bad files skipped with their reason).
4. Read vectors back with the reader library and compare them with the artifact run directly
   (downloaded from S3); the nearest neighbour of each resized copy is its original.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np

HERE = Path(__file__).resolve().parent


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def invoke(self, function: str, event: Any) -> Any: ...

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...


def _modules() -> tuple[Any, Any, Any]:
    for folder in ("embed", "api"):
        if str(HERE / folder) not in sys.path:
            sys.path.insert(0, str(HERE / folder))
    import embedder
    import sample_images
    import vectors
    return embedder, sample_images, vectors


def run(ctx: DemoContext) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    api, bucket = ctx.outputs.get("ApiUrl"), ctx.outputs.get("ImagesBucketName")
    table = ctx.outputs.get("EmbeddingsTableName")
    if not api or not bucket or not table:
        raise AssertionError("stack outputs ApiUrl / ImagesBucketName / EmbeddingsTableName "
                             "are missing")
    embedder, sample_images, vectors = _modules()
    s3 = ctx.client("s3")
    t0 = time.monotonic()
    model = ctx.invoke("ModelFunction", {"seed": 7})
    ctx.step(f"model exported to {model['params'].rsplit('/', 1)[0]}/ (resnet18_v1 features, "
             f"seed {model['seed']}, pretrained={model['pretrained']}) in "
             f"{time.monotonic() - t0:.1f} s")

    images: dict[str, bytes] = {}
    for i in range(8):
        images[f"images/photo-{i:02d}.jpg"] = sample_images.encode(sample_images.smooth(i))
    for i in (1, 4):
        images[f"images/photo-{i:02d}-thumb.png"] = sample_images.encode(
            sample_images.variant(sample_images.smooth(i)), "PNG")
    images["images/scan.png"] = sample_images.encode(sample_images.smooth(40).convert("L"),
                                                     "PNG")
    images["catalog/item-a.gif"] = sample_images.encode(sample_images.smooth(41).convert("P"),
                                                        "GIF")
    images["catalog/item-b.jpg"] = sample_images.encode(sample_images.smooth(42, 640, 200))
    images["catalog/photo-06-copy.jpg"] = sample_images.encode(
        sample_images.variant(sample_images.smooth(6)))
    bad = {"images/readme.jpg": b"not an image at all",
           "catalog/broken.jpg": sample_images.truncated_jpeg(9)}
    for key, data in {**images, **bad}.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    ctx.step(f"{len(images)} images (one grayscale, resized copies) and {len(bad)} bad files "
             "uploaded under images/ and catalog/")

    status, started = ctx.http("POST", api + "runs", {"Paths": ["images", "catalog"],
                                                      "BatchSize": 5})
    if status != 202:
        raise AssertionError(f"POST /runs answered {status}: {started}")
    t0 = time.monotonic()
    while True:
        status, view = ctx.http("GET", api + f"runs/{started['run_id']}")
        if status != 200:
            raise AssertionError(f"GET /runs answered {status}: {view}")
        if view["status"] != "RUNNING":
            break
        if time.monotonic() - t0 > 300:
            raise AssertionError("the run is still RUNNING after 300 s")
        time.sleep(0.5)
    summary = view.get("summary") or {}
    if (view["status"] != "SUCCEEDED" or summary.get("embedded") != len(images)
            or summary.get("skipped") != len(bad)):
        raise AssertionError(f"run ended {view['status']}: {summary or view}")
    ctx.step(f"run {started['run_id'][:12]} SUCCEEDED in {time.monotonic() - t0:.1f} s: "
             f"{summary['embedded']} embedded in {summary['batches']} batches, skipped "
             + ", ".join(f"{s['key']} ({s['reason'].split(':')[0]})"
                         for s in summary["skipped_images"]))

    ddb = ctx.client("dynamodb")
    ids = [Path(k).stem for k in images]
    stored = vectors.get_vectors(ddb, table, ids)
    if set(stored) != set(ids):
        raise AssertionError(f"missing vectors: {sorted(set(ids) - set(stored))}")
    symbol = s3.get_object(Bucket=bucket, Key=model["symbol"])["Body"].read()
    params = s3.get_object(Bucket=bucket, Key=model["params"])["Body"].read()
    net = embedder.Embedder(symbol, params)
    direct = net.embed(np.stack([embedder.preprocess(d, 10**8) for d in images.values()]))
    worst = max(float(np.abs(stored[Path(k).stem] - direct[i]).max())
                for i, k in enumerate(images))
    if worst > 1e-4:
        raise AssertionError(f"stored vectors differ from the model run directly by {worst}")
    ctx.step(f"{len(stored)} vectors read back (512 float32 each) equal the artifact run "
             f"directly (max difference {worst:.1e})")

    pairs = {"photo-01-thumb": "photo-01", "photo-04-thumb": "photo-04",
             "photo-06-copy": "photo-06"}
    for copy, original in pairs.items():
        status, near = ctx.http("GET", api + f"images/{copy}/neighbours?k=3")
        if status != 200 or near["neighbours"][0]["image_id"] != original:
            raise AssertionError(f"nearest of {copy} should be {original}: {near}")
    ctx.step("cosine nearest neighbour of each resized copy is its original: "
             + ", ".join(f"{c} -> {o}" for c, o in pairs.items()))
