"""The exported model and the batch embedder: equal to MXNet run directly, stored exactly."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import embed_batch as batch
import export_model
import mxnet as mx
import numpy as np
import pytest
import sample_images
import vectors
from embedder import DIMENSION, Embedder, preprocess

pytestmark = pytest.mark.slow  # mxnet: a model build and export per module


def _embedder(model_files: dict[str, Path]) -> Embedder:
    return Embedder(model_files["symbol"].read_bytes(), model_files["params"].read_bytes())


def test_embeddings_equal_a_direct_mxnet_computation(model_files: dict[str, Path]) -> None:
    inputs = np.stack([preprocess(sample_images.encode(sample_images.smooth(s)), 10**8)
                       for s in range(3)])
    got = _embedder(model_files).embed(inputs)
    assert got.shape == (3, DIMENSION) and got.dtype == np.float32
    direct = export_model.build(7)(mx.nd.array(inputs)).asnumpy().reshape(3, -1)
    np.testing.assert_allclose(got, direct, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(got)) and not np.allclose(got[0], got[1])
    other = export_model.build(8)(mx.nd.array(inputs)).asnumpy().reshape(3, -1)
    assert not np.allclose(got, other, rtol=1e-3)  # the seed is the weights


def test_a_batch_stores_vectors_and_skips_bad_files(model_files: dict[str, Path],
                                                    aws: SimpleNamespace) -> None:
    good = {f"images/p{i}.jpg": sample_images.encode(sample_images.smooth(i)) for i in range(3)}
    good["images/g.png"] = sample_images.encode(sample_images.smooth(9).convert("L"), "PNG")
    bad = {"images/notes.jpg": b"plain text", "images/cut.jpg": sample_images.truncated_jpeg(4),
           "images/big.png": sample_images.encode(sample_images.smooth(1, 800, 600), "PNG")}
    for key, data in {**good, **bad}.items():
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    keys = sorted(good) + sorted(bad) + ["images/gone.jpg"]
    embedder = _embedder(model_files)
    result = batch.embed_batch(aws.s3, aws.ddb, embedder, aws.bucket, aws.table, "run1", keys,
                               batch.Limits(max_pixels=300_000, mini_batch=2))
    assert (result["images"], result["embedded"], result["skipped"]) == (8, 4, 4)
    assert result["skipped_by_reason"] == {"not an image": 1, "corrupt image": 1, "huge": 1,
                                           "missing": 1}
    stored = vectors.get_vectors(aws.ddb, aws.table, ["p0", "p1", "p2", "g", "notes", "big"])
    assert set(stored) == {"p0", "p1", "p2", "g"}
    for key in sorted(good):
        direct = embedder.embed(preprocess(good[key], 10**8)[None])[0]
        np.testing.assert_array_equal(stored[batch.image_id(key)], direct)
    item = aws.ddb.get_item(TableName=aws.table, Key={"ImageId": {"S": "p1"}})["Item"]
    assert (item["DataType"]["S"], item["Dimension"]["N"]) == ("float32", "512")
    assert item["SourceKey"]["S"] == "images/p1.jpg" and item["RunId"]["S"] == "run1"
