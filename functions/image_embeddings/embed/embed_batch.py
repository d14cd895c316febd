"""Embed one batch (a manifest of image keys): read, preprocess, run the network, store.

Plain functions over injected clients, used by EmbedFunction (app.py). Each image is judged
on its own: a file that is not an image, is corrupt, or is too large (bytes or pixels) is
skipped with its reason and the batch goes on. Vectors go to DynamoDB as float32 bytes, one
item per image: ImageId (the file stem), Vector, DataType, Dimension, Created, SourceKey, RunId.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from embedder import DIMENSION, Embedder, ImageRejected, preprocess

MAX_LISTED_SKIPS = 50


@dataclass(frozen=True)
class Limits:
    max_image_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 40_000_000
    mini_batch: int = 32  # images per forward pass: bounds the worker's memory


def image_id(key: str) -> str:
    """The item key of an image: its file name without the extension (the seed's choice)."""
    return PurePosixPath(key).stem


def load_embedder(s3: Any, bucket: str, prefix: str) -> Embedder:
    symbol = s3.get_object(Bucket=bucket, Key=prefix + "model-symbol.json")["Body"].read()
    params = s3.get_object(Bucket=bucket, Key=prefix + "model-0000.params")["Body"].read()
    return Embedder(symbol, params)


def read_manifest(s3: Any, bucket: str, key: str) -> list[str]:
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [line.strip() for line in text.splitlines() if line.strip()]


def fetch(s3: Any, bucket: str, key: str, limits: Limits) -> np.ndarray:
    """The preprocessed image at `key`; ImageRejected when it is skipped."""
    try:
        obj = s3.get_object(Bucket=bucket, Key=key)
    except s3.exceptions.NoSuchKey as err:
        raise ImageRejected("missing: the object was deleted after listing") from err
    size = int(obj["ContentLength"])
    if size > limits.max_image_bytes:
        obj["Body"].close()
        raise ImageRejected(f"huge: {size:,} bytes is over the {limits.max_image_bytes:,}-byte "
                            "limit")
    return preprocess(obj["Body"].read(), limits.max_pixels)


def to_item(key: str, vector: np.ndarray, run_id: str, created: str) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) of one image's vector."""
    data = np.ascontiguousarray(vector, dtype=np.float32)
    return {"ImageId": {"S": image_id(key)}, "Vector": {"B": data.tobytes()},
            "DataType": {"S": "float32"}, "Dimension": {"N": str(data.shape[0])},
            "Created": {"S": created}, "SourceKey": {"S": key}, "RunId": {"S": run_id}}


def write_items(dynamodb: Any, table: str, items: list[dict[str, Any]],
                sleep: Any = time.sleep, max_rounds: int = 8) -> None:
    """BatchWriteItem in 25s; unprocessed items are sent again with backoff."""
    for start in range(0, len(items), 25):
        pending = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
        for attempt in range(max_rounds):
            out = dynamodb.batch_write_item(RequestItems={table: pending})
            pending = out.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            sleep(min(2.0, 0.05 * 2 ** attempt))
        else:
            raise RuntimeError(f"{len(pending)} items still unprocessed after {max_rounds} "
                               "rounds")


def embed_batch(s3: Any, dynamodb: Any, embedder: Embedder, bucket: str, table: str,
                run_id: str, keys: list[str], limits: Limits) -> dict[str, Any]:
    """Embed and store every image of `keys`; counts and the skipped images back."""
    started = time.perf_counter()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    skipped: list[dict[str, str]] = []
    embedded = 0
    for start in range(0, len(keys), limits.mini_batch):
        chunk, inputs = [], []
        for key in keys[start:start + limits.mini_batch]:
            try:
                inputs.append(fetch(s3, bucket, key, limits))
                chunk.append(key)
            except ImageRejected as err:
                skipped.append({"key": key, "reason": str(err)[:300]})
        if not chunk:
            continue
        vectors = embedder.embed(np.stack(inputs))
        assert vectors.shape == (len(chunk), DIMENSION)
        write_items(dynamodb, table, [to_item(k, v, run_id, created)
                                      for k, v in zip(chunk, vectors, strict=True)])
        embedded += len(chunk)
    reasons: dict[str, int] = {}
    for skip in skipped:
        kind = skip["reason"].split(":", 1)[0]
        reasons[kind] = reasons.get(kind, 0) + 1
    return {"images": len(keys), "embedded": embedded, "skipped": len(skipped),
            "skipped_by_reason": reasons, "skipped_images": skipped[:MAX_LISTED_SKIPS],
            "seconds": round(time.perf_counter() - started, 3)}


def report_key(run_id: str, batch: int) -> str:
    return f"runs/{run_id}/reports/{batch:05d}.json"


def put_report(s3: Any, bucket: str, run_id: str, batch: int, report: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=report_key(run_id, batch),
                  Body=json.dumps(report).encode(), ContentType="application/json")
