"""EmbedFunction: one Map iteration of the embeddings state machine embeds one batch.

Event: {"run_id": "...", "batch": 0, "manifest": "manifests/<run>/<path>/00000.txt"}. The
model (symbol + params under MODEL_PREFIX in the images bucket) is loaded once per execution
environment. Skipped images are reported in the result and in runs/<run>/reports/<batch>.json.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.config import Config
from embed_batch import Limits, embed_batch, load_embedder, put_report, read_manifest

from common import aws
from common.observability import get_logger, get_metrics, get_tracer

logger = get_logger()
tracer = get_tracer()
metrics = get_metrics()

# More attempts than the default: a batch is minutes of work, a throttle must not lose it.
_config = Config(retries={"mode": "standard", "max_attempts": 5})
s3 = aws.client("s3", config=_config)
dynamodb = aws.client("dynamodb", config=_config)
BUCKET = os.environ.get("IMAGES_BUCKET", "")
TABLE = os.environ.get("EMBEDDINGS_TABLE", "")
MODEL_PREFIX = os.environ.get("MODEL_PREFIX", "models/resnet18-v1/")
LIMITS = Limits(max_image_bytes=int(os.environ.get("MAX_IMAGE_BYTES", Limits.max_image_bytes)),
                max_pixels=int(os.environ.get("MAX_IMAGE_PIXELS", Limits.max_pixels)),
                mini_batch=int(os.environ.get("MINI_BATCH", Limits.mini_batch)))
_embedder: Any = None


def embedder() -> Any:
    """The network, loaded on first use and kept for the environment's life."""
    global _embedder
    if _embedder is None:
        _embedder = load_embedder(s3, BUCKET, MODEL_PREFIX)
    return _embedder


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point: {"run_id", "batch", "manifest"} -> the batch's counts."""
    run_id, batch = str(event["run_id"]), int(event["batch"])
    logger.append_keys(run_id=run_id, batch=batch)
    keys = read_manifest(s3, BUCKET, event["manifest"])
    result = embed_batch(s3, dynamodb, embedder(), BUCKET, TABLE, run_id, keys, LIMITS)
    report = {"run_id": run_id, "batch": batch, "manifest": event["manifest"], **result}
    put_report(s3, BUCKET, run_id, batch, report)
    metrics.add_metric(name="ImagesEmbedded", unit="Count", value=result["embedded"])
    metrics.add_metric(name="ImagesSkipped", unit="Count", value=result["skipped"])
    logger.info("Batch embedded", extra={k: v for k, v in report.items()
                                         if k != "skipped_images"})
    return report
