"""Export the embedding model artifact (symbol + params) to S3: ResNet-18 v1 features.

    .venv/bin/python functions/image_embeddings/embed/export_model.py BUCKET [PREFIX] [SEED]

Also ModelFunction's handler ({"prefix": "models/resnet18-v1/", "seed": 7}). Pretrained
weights would need a download, which this project never does: the network is the Gluon model
zoo's resnet18_v1 built with pretrained=False and initialised from a fixed seed (Xavier), so
the same seed gives the same parameters everywhere. To use real ImageNet weights, export them
the same way on a machine that has them (net = resnet18_v1(pretrained=True)) and upload the
two files: the worker does not care where the weights came from.

Files under the prefix: model-symbol.json, model-0000.params, model.json (what it is).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

DEFAULT_PREFIX = "models/resnet18-v1/"


def build(seed: int) -> Any:
    """The hybridized ResNet-18 v1 features block with seeded random weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mxnet as mx
        from mxnet.gluon.model_zoo import vision
    mx.random.seed(seed)
    net = vision.resnet18_v1(pretrained=False)
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    features = net.features
    features.hybridize()
    features(mx.nd.zeros((1, 3, 224, 224)))  # one pass fixes the graph for export
    return features


def export_files(seed: int, folder: Path) -> dict[str, Path]:
    """Write model-symbol.json and model-0000.params into `folder`."""
    build(seed).export(str(folder / "model"), epoch=0)
    return {"symbol": folder / "model-symbol.json", "params": folder / "model-0000.params"}


def export(s3: Any, bucket: str, prefix: str = DEFAULT_PREFIX, seed: int = 7) -> dict[str, Any]:
    """Export the model and upload it under s3://bucket/prefix; what was written."""
    prefix = prefix if prefix.endswith("/") else prefix + "/"
    with tempfile.TemporaryDirectory() as tmp:
        files = export_files(seed, Path(tmp))
        keys = {}
        for name, path in files.items():
            keys[name] = prefix + path.name
            s3.put_object(Bucket=bucket, Key=keys[name], Body=path.read_bytes())
    info = {"architecture": "resnet18_v1.features", "pretrained": False, "seed": seed,
            "initializer": "Xavier", "input": "data", "dimension": 512, **keys}
    s3.put_object(Bucket=bucket, Key=prefix + "model.json", Body=json.dumps(info).encode(),
                  ContentType="application/json")
    return info


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ModelFunction: {"prefix"?, "seed"?} -> the artifact written to the images bucket."""
    import boto3

    event = event or {}
    seed = event.get("seed", 7)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    prefix = str(event.get("prefix") or os.environ.get("MODEL_PREFIX", DEFAULT_PREFIX))
    return export(boto3.client("s3"), os.environ["IMAGES_BUCKET"], prefix, seed)


if __name__ == "__main__":
    import boto3

    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    print(json.dumps(export(boto3.client("s3"), args[0], *(args[1:2] or [DEFAULT_PREFIX]),
                            *([int(args[2])] if len(args) > 2 else []))))
