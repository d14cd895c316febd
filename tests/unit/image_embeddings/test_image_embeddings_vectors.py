"""The reader library: BatchGetItem by 100, unprocessed keys retried, cosine neighbours."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import vectors


def _put(aws: SimpleNamespace, ids: list[str], dim: int = 512, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    stored = {}
    for i in ids:
        v = rng.normal(size=dim).astype(np.float32)
        stored[i] = v
        aws.ddb.put_item(TableName=aws.table, Item={
            "ImageId": {"S": i}, "Vector": {"B": v.tobytes()}, "DataType": {"S": "float32"},
            "Dimension": {"N": str(dim)}})
    return stored


class Throttling:
    """A client whose BatchGetItem leaves the second half of every request unprocessed once."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls, self.throttled = client, [], set()

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
        (table, request), = RequestItems.items()
        keys = request["Keys"]
        self.calls.append(len(keys))
        assert len(keys) <= 100
        first = tuple(k["ImageId"]["S"] for k in keys)
        if first in self.throttled or len(keys) == 1:
            return self.client.batch_get_item(RequestItems=RequestItems)
        self.throttled.add(tuple(k["ImageId"]["S"] for k in keys[len(keys) // 2:]))
        out = self.client.batch_get_item(RequestItems={table: {"Keys": keys[:len(keys) // 2]}})
        out["UnprocessedKeys"] = {table: {"Keys": keys[len(keys) // 2:]}}
        return out


def test_round_trip_with_throttling_and_more_than_100_ids(aws: SimpleNamespace) -> None:
    ids = [f"img-{i:04d}" for i in range(230)]
    stored = _put(aws, ids)
    client, sleeps = Throttling(aws.ddb), []
    found = vectors.get_vectors(client, aws.table, ids + ids[:5] + ["absent"],
                                sleep=sleeps.append)
    assert set(found) == set(ids)
    for i in ids:
        np.testing.assert_array_equal(found[i], stored[i])
        assert found[i].dtype == np.float32
    assert max(client.calls) == 100 and len(sleeps) == 3  # one retry per 100-key request


def test_keys_never_processed_raise(aws: SimpleNamespace) -> None:
    class Stuck:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:  # noqa: N803
            return {"Responses": {}, "UnprocessedKeys": RequestItems}

    with pytest.raises(RuntimeError, match="1 keys still unprocessed"):
        vectors.get_vectors(Stuck(), aws.table, ["a"], max_rounds=3, sleep=lambda s: None)


def test_a_wrong_dimension_is_refused() -> None:
    item = {"ImageId": {"S": "x"}, "Vector": {"B": np.zeros(4, np.float32).tobytes()},
            "DataType": {"S": "float32"}, "Dimension": {"N": "512"}}
    with pytest.raises(vectors.VectorError, match="4 values, Dimension says 512"):
        vectors.vector_from(item)


def test_scan_and_nearest_agree_with_brute_force(aws: SimpleNamespace) -> None:
    stored = _put(aws, [f"n{i}" for i in range(40)], dim=64, seed=3)
    ids, matrix = vectors.scan_vectors(aws.ddb, aws.table)
    assert sorted(ids) == sorted(stored) and matrix.shape == (40, 64)
    query = stored["n7"]
    best = vectors.nearest(query, ids, matrix, k=5, exclude="n7")
    def cos(a: np.ndarray, b: np.ndarray) -> float:
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    expected = sorted((i for i in stored if i != "n7"), key=lambda i: -cos(query, stored[i]))
    assert [i for i, _ in best] == expected[:5]
    assert best[0][1] == pytest.approx(cos(query, stored[expected[0]]), rel=1e-6)
    assert vectors.nearest(query, ids, matrix, k=1)[0] == ("n7", pytest.approx(1.0))
    assert vectors.nearest(query, [], np.zeros((0, 0)), k=3) == []
