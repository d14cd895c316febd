"""Reading stored embeddings back as numpy vectors, and a cosine nearest-neighbour query.

A library: the API function uses it, and so can any client with a DynamoDB client (the seed's
reader snippet, done properly: 100 keys per BatchGetItem, unprocessed keys retried with
backoff, every item's DataType and Dimension checked).

    import boto3, vectors
    ddb = boto3.client("dynamodb")
    found = vectors.get_vectors(ddb, table, ["img-001", "img-002"])   # {id: np.ndarray}
    ids, matrix = vectors.scan_vectors(ddb, table)                     # every stored vector
    vectors.nearest(found["img-001"], ids, matrix, k=5, exclude="img-001")
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

BATCH_GET_LIMIT = 100


class VectorError(ValueError):
    """A stored item is not a vector this library can read."""


def vector_from(item: dict[str, Any]) -> np.ndarray:
    """The vector of one item as the low-level client returns it ({"Vector": {"B": ...}})."""
    try:
        raw, dtype = item["Vector"]["B"], item["DataType"]["S"]
        dimension = int(item["Dimension"]["N"])
    except (KeyError, TypeError, ValueError) as err:
        raise VectorError(f"item {item.get('ImageId')} lacks Vector/DataType/Dimension") from err
    raw = raw.value if hasattr(raw, "value") else raw  # boto3's Binary wrapper
    vector = np.frombuffer(raw, dtype=np.dtype(dtype))
    if vector.shape != (dimension,):
        raise VectorError(f"item {item['ImageId']['S']}: {vector.shape[0]} values, "
                          f"Dimension says {dimension}")
    return vector


def get_vectors(client: Any, table: str, image_ids: Iterable[str], max_rounds: int = 8,
                sleep: Callable[[float], None] = time.sleep) -> dict[str, np.ndarray]:
    """{ImageId: vector} of the ids that exist (missing ids are simply absent)."""
    ids = list(dict.fromkeys(image_ids))  # BatchGetItem refuses duplicate keys
    found: dict[str, np.ndarray] = {}
    for start in range(0, len(ids), BATCH_GET_LIMIT):
        keys = [{"ImageId": {"S": i}} for i in ids[start:start + BATCH_GET_LIMIT]]
        request: dict[str, Any] = {table: {"Keys": keys}}
        for attempt in range(max_rounds):
            out = client.batch_get_item(RequestItems=request)
            for item in out.get("Responses", {}).get(table, []):
                found[item["ImageId"]["S"]] = vector_from(item)
            request = out.get("UnprocessedKeys") or {}
            if not request:
                break
            sleep(min(2.0, 0.05 * 2 ** attempt))  # throttled: back off, then ask again
        else:
            left = len(request.get(table, {}).get("Keys", []))
            raise RuntimeError(f"{left} keys still unprocessed after {max_rounds} rounds")
    return found


def scan_vectors(client: Any, table: str) -> tuple[list[str], np.ndarray]:
    """Every stored vector: (ids, matrix with one row per id)."""
    ids: list[str] = []
    rows: list[np.ndarray] = []
    kwargs: dict[str, Any] = {"TableName": table,
                              "ProjectionExpression": "ImageId, Vector, DataType, Dimension"}
    while True:
        page = client.scan(**kwargs)
        for item in page.get("Items", []):
            ids.append(item["ImageId"]["S"])
            rows.append(vector_from(item))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    matrix = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 0), np.float32)
    return ids, matrix


def nearest(query: np.ndarray, ids: list[str], matrix: np.ndarray, k: int = 5,
            exclude: str | None = None) -> list[tuple[str, float]]:
    """The k ids most similar to `query` by cosine similarity, best first."""
    if not ids:
        return []
    q = np.asarray(query, dtype=np.float64)
    m = matrix.astype(np.float64)
    norms = np.linalg.norm(m, axis=1) * np.linalg.norm(q)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores = np.where(norms > 0, m @ q / norms, 0.0)
    order = np.argsort(-scores, kind="stable")
    out = [(ids[i], float(scores[i])) for i in order if ids[i] != exclude]
    return out[:k]
