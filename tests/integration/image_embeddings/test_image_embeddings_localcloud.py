"""image_embeddings end to end on localcloud: POST /runs -> Step Functions (moto's ASL
interpreter) -> plan -> Map of EmbedFunction (the image function, MXNet from the venv) ->
DynamoDB, checked against MXNet run directly with the same parameters."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from localcloud.cloud import LocalCloud

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FUNCTIONS = Path(__file__).resolve().parents[3] / "functions" / "image_embeddings"
for _folder in ("embed", "api"):
    if str(FUNCTIONS / _folder) not in sys.path:
        sys.path.insert(0, str(FUNCTIONS / _folder))

import export_model  # noqa: E402
import mxnet as mx  # noqa: E402
import sample_images  # noqa: E402
import vectors  # noqa: E402
from embedder import preprocess  # noqa: E402
from PIL import Image  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


IMAGES = {
    **{f"images/pic-{i}.jpg": sample_images.encode(sample_images.smooth(i)) for i in range(5)},
    "images/pic-2-small.png": sample_images.encode(sample_images.variant(
        sample_images.smooth(2)), "PNG"),
    "images/gray.png": sample_images.encode(sample_images.smooth(11).convert("L"), "PNG"),
    "images/sub/deep.jpg": sample_images.encode(sample_images.smooth(12, 500, 200)),
    "archive/old-1.jpg": sample_images.encode(sample_images.smooth(21)),
    "archive/old-2.gif": sample_images.encode(sample_images.smooth(22).convert("P"), "GIF"),
}
BAD = {
    "images/notes.jpg": b"this is a text file with an image's name",
    "images/cut.jpg": sample_images.truncated_jpeg(5),
    # 7,000 x 6,000 = 42 M pixels, over the 40 M limit (and only a few kB as a PNG).
    "archive/huge.png": sample_images.encode(Image.new("L", (7000, 6000)), "PNG"),
    # The same stem as images/pic-0.jpg: one ImageId, the first path wins.
    "archive/pic-0.png": sample_images.encode(sample_images.smooth(30), "PNG"),
}


@pytest.fixture(scope="module")
def env() -> Iterator[SimpleNamespace]:
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True).start()
    try:
        cloud.deploy(apps={"image_embeddings"})
        cloud.start_api()
        cloud.start_delivery()
        outputs = cloud.outputs()["image_embeddings"]
        model = cloud.invoke(cloud.find_function("image_embeddings/ModelFunction").name,
                             {"seed": 7})
        assert model.ok, model.error
        s3 = cloud.client("s3")
        for key, data in {**IMAGES, **BAD}.items():
            s3.put_object(Bucket=outputs["ImagesBucketName"], Key=key, Body=data)
        status, run = http("POST", outputs["ApiUrl"] + "runs",
                           {"Paths": ["images", "archive/"], "BatchSize": 4})
        assert status == 202, run
        deadline = time.monotonic() + 180
        while True:
            status, view = http("GET", outputs["ApiUrl"] + f"runs/{run['run_id']}")
            if view.get("status") != "RUNNING":
                break
            assert time.monotonic() < deadline, view
            time.sleep(0.5)
        yield SimpleNamespace(cloud=cloud, outputs=outputs, api=outputs["ApiUrl"], s3=s3,
                              run=view, ddb=cloud.client("dynamodb"),
                              table=outputs["EmbeddingsTableName"])
    finally:
        cloud.stop()


def test_the_run_embeds_every_image_and_reports_the_rest(env: SimpleNamespace) -> None:
    summary = env.run["summary"]
    assert env.run["status"] == "SUCCEEDED", env.run
    assert summary["paths"] == ["images/", "archive/"]
    assert summary["images_listed"] == len(IMAGES) + len(BAD)
    assert (summary["embedded"], summary["skipped"], summary["duplicates"]) == (
        len(IMAGES), 3, 1)
    assert summary["skipped_by_reason"] == {"not an image": 1, "corrupt image": 1, "huge": 1}
    assert {s["key"] for s in summary["skipped_images"]} == {
        "images/notes.jpg", "images/cut.jpg", "archive/huge.png"}
    assert summary["duplicate_images"] == [{"key": "archive/pic-0.png",
                                            "same_image_id_as": "images/pic-0.jpg"}]
    # 10 under images/ (3 batches of at most 4) + 3 under archive/ once the duplicate is left
    # out (1 batch): a path never shares a manifest with another.
    assert summary["batches"] == 4 and summary["batches_failed"] == 0


def test_stored_vectors_equal_mxnet_run_directly(env: SimpleNamespace) -> None:
    ids = [Path(k).stem for k in IMAGES]
    stored = vectors.get_vectors(env.ddb, env.table, ids + ["notes", "cut", "huge"])
    assert set(stored) == set(ids)
    net = export_model.build(7)  # the same seed: the same parameters as the artifact
    inputs = np.stack([preprocess(data, 10**8) for data in IMAGES.values()])
    direct = net(mx.nd.array(inputs)).asnumpy().reshape(len(IMAGES), -1)
    for row, key in enumerate(IMAGES):
        np.testing.assert_allclose(stored[Path(key).stem], direct[row], rtol=1e-4, atol=1e-5)
    item = env.ddb.get_item(TableName=env.table, Key={"ImageId": {"S": "gray"}})["Item"]
    assert item["DataType"]["S"] == "float32" and item["Dimension"]["N"] == "512"
    assert item["SourceKey"]["S"] == "images/gray.png"
    assert item["RunId"]["S"] == env.run["run_id"]


def test_the_nearest_neighbour_of_a_resized_copy_is_its_original(env: SimpleNamespace) -> None:
    status, near = http("GET", env.api + "images/pic-2-small/neighbours?k=3")
    assert status == 200, near
    assert near["compared"] == len(IMAGES) - 1
    assert near["neighbours"][0]["image_id"] == "pic-2"
    assert near["neighbours"][0]["cosine"] > near["neighbours"][1]["cosine"]


def test_bad_requests(env: SimpleNamespace) -> None:
    status, body = http("POST", env.api + "runs", {"Paths": []})
    assert status == 400 and body["field"] == "Paths"
    assert http("GET", env.api + "runs/" + "f" * 32)[0] == 404
    assert http("GET", env.api + "images/cut")[0] == 404
