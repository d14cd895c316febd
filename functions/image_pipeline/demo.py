"""The image_pipeline scenario for `localcloud demo`, and the test images it (and the tests and
the benchmark) generate with Pillow: nothing is downloaded.

Scenario: block one picture (its difference hash in the blocked-content table); upload a
photo-like JPEG, a PNG with transparency and an animated GIF -> each execution SUCCEEDED, four
renditions each (sizes and formats checked by decoding them), items READY. Then the bad
uploads: text named .jpg, a TIFF, a 2000x8 strip, a truncated JPEG, a blank picture and a
re-encoded copy of the blocked one -> each execution FAILED with its reason, no rendition
left, item REJECTED with the same reason.
"""

from __future__ import annotations

import io
import json
import sys
import time
from typing import Any

from PIL import Image, ImageDraw

RENDITIONS = {"thumb": ("JPEG", 128, 128), "small": ("WEBP", 320, 320),
              "medium": ("JPEG", 1024, 1024), "large": ("WEBP", 2048, 2048)}


# --- test images --------------------------------------------------------------------------

def photo(width: int = 1600, height: int = 1000, seed: int = 1, fmt: str = "JPEG") -> bytes:
    """A photo-like picture: gradients, circles and stripes (content a dHash can tell apart)."""
    import numpy as np

    x = np.arange(width, dtype=np.float64)[None, :]
    y = np.arange(height, dtype=np.float64)[:, None]
    r = 127 + 127 * np.sin((x + seed * 37) / (60 + seed)) + 0 * y
    g = 127 + 127 * np.cos((y + seed * 11) / (45 + seed)) + 0 * x
    b = (x * 255 // width + y * 255 // height + seed * 29) % 256
    img = Image.fromarray(np.stack([r, g, b], axis=-1).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for i in range(6):
        cx, cy = (seed * 97 + i * 211) % width, (seed * 53 + i * 131) % height
        rad = 40 + (seed * 17 + i * 29) % 120
        draw.ellipse((cx - rad, cy - rad, cx + rad, cy + rad),
                     fill=((i * 40) % 256, (seed * 70) % 256, (255 - i * 30) % 256))
    out = io.BytesIO()
    img.save(out, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def transparent_png(width: int = 600, height: int = 400) -> bytes:
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rectangle((50, 50, width - 50, height - 50), fill=(200, 30, 30, 255))
    draw.ellipse((150, 100, 350, 300), fill=(20, 20, 220, 180))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def animated_gif(width: int = 240, height: int = 180, frames: int = 3) -> bytes:
    images = []
    for i in range(frames):
        img = Image.new("P", (width, height), 0)
        img.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
        draw = ImageDraw.Draw(img)
        draw.rectangle((20 + i * 30, 20, 120 + i * 30, 120), fill=1 + i % 3)
        draw.line((0, height - 1, width - 1, 0), fill=2, width=5)
        images.append(img)
    out = io.BytesIO()
    images[0].save(out, format="GIF", save_all=True, append_images=images[1:], duration=100)
    return out.getvalue()


def blank(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (255, 255, 255)).save(out, format="JPEG")
    return out.getvalue()


def tiff() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(photo(200, 150))).save(out, format="TIFF")
    return out.getvalue()


def strip() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2000, 8), (10, 120, 200)).save(out, format="PNG")
    return out.getvalue()


def truncated() -> bytes:
    data = photo(800, 600, seed=5)
    return data[: len(data) // 3]


def bad_uploads(blocked_copy: bytes) -> dict[str, tuple[bytes, str, str]]:
    """key -> (body, expected Error, a phrase the reason must contain)."""
    return {
        "uploads/bad/notes.jpg": (b"just some text, not a picture\n" * 20,
                                  "InvalidImageType", "not an image"),
        "uploads/bad/scan.tiff": (tiff(), "InvalidImageType", "TIFF images are not accepted"),
        "uploads/bad/strip.png": (strip(), "ImageDimensionsOutOfRange", "2000x8 is smaller"),
        "uploads/bad/truncated.jpg": (truncated(), "ImageCorrupt", "does not decode"),
        "uploads/bad/blank.jpg": (blank(), "ContentRejected", "blank image"),
        "uploads/bad/blocked copy.jpg": (blocked_copy, "ContentRejected",
                                         "matches blocked image"),
    }


# --- driving the app ------------------------------------------------------------------------

def wait_execution(sfn: Any, arn: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} still running after {timeout:.0f} s")


def execution_for(ctx: Any, key: str, timeout: float = 60.0) -> dict[str, Any]:
    """The finished execution started for the upload `key` (found by its input)."""
    sfn = ctx.client("stepfunctions")
    machine = ctx.outputs["ImageStateMachineArn"]

    def find() -> str | None:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine):
            for e in page["executions"]:
                described = sfn.describe_execution(executionArn=e["executionArn"])
                if json.loads(described["input"]).get("key") == key:
                    return e["executionArn"]
        return None

    arn = ctx.wait_for(f"the execution for {key}", find, timeout=timeout, every=0.3)
    return wait_execution(sfn, arn)


def upload(ctx: Any, key: str, body: bytes) -> None:
    ctx.client("s3").put_object(Bucket=ctx.outputs["ImagesBucketName"], Key=key, Body=body)


def item(ctx: Any, image_id: str) -> dict[str, Any] | None:
    return ctx.client("dynamodb").get_item(
        TableName=ctx.outputs["ImagesTableName"], Key={"image_id": {"S": image_id}}).get("Item")


def renditions_of(ctx: Any, image_id: str) -> list[str]:
    listed = ctx.client("s3").list_objects_v2(Bucket=ctx.outputs["ImagesBucketName"],
                                              Prefix=f"renditions/{image_id}/")
    return sorted(o["Key"] for o in listed.get("Contents", []))


def check_good(ctx: Any, key: str, source: bytes) -> dict[str, Any]:
    """The upload SUCCEEDED: four decodable renditions of the right size and format, READY."""
    described = execution_for(ctx, key)
    if described["status"] != "SUCCEEDED":
        raise AssertionError(f"{key}: {described['status']} {described.get('error')}: "
                             f"{described.get('cause')}")
    image_id = key.removeprefix("uploads/")
    s3 = ctx.client("s3")
    with Image.open(io.BytesIO(source)) as original:
        ow, oh = original.size
    for name, (fmt, w, h) in RENDITIONS.items():
        ext = {"JPEG": "jpg", "WEBP": "webp"}[fmt]
        body = s3.get_object(Bucket=ctx.outputs["ImagesBucketName"],
                             Key=f"renditions/{image_id}/{name}.{ext}")["Body"].read()
        with Image.open(io.BytesIO(body)) as out:
            if out.format != fmt:
                raise AssertionError(f"{key} {name}: {out.format}, expected {fmt}")
            if name == "thumb":
                expected = (min(w, ow), min(h, oh))
            else:
                scale = min(w / ow, h / oh, 1.0)
                expected = (max(1, round(ow * scale)), max(1, round(oh * scale)))
            if abs(out.size[0] - expected[0]) > 1 or abs(out.size[1] - expected[1]) > 1:
                raise AssertionError(f"{key} {name}: {out.size}, expected {expected}")
    got = item(ctx, image_id)
    if not got or got["status"]["S"] != "READY" or set(got["renditions"]["M"]) != set(
            RENDITIONS):
        raise AssertionError(f"{key}: item {got}")
    return got


def check_bad(ctx: Any, key: str, error: str, phrase: str) -> dict[str, Any]:
    """The upload FAILED with `error` and a reason containing `phrase`; nothing left over."""
    described = execution_for(ctx, key)
    if described["status"] != "FAILED" or described.get("error") != error or phrase not in (
            described.get("cause") or ""):
        raise AssertionError(f"{key}: {described['status']} {described.get('error')}: "
                             f"{described.get('cause')} (expected {error}: ...{phrase}...)")
    image_id = key.removeprefix("uploads/")
    left = renditions_of(ctx, image_id)
    if left:
        raise AssertionError(f"{key}: renditions left behind: {left}")
    got = item(ctx, image_id)
    if not got or got["status"]["S"] != "REJECTED" or got["error"]["S"] != error or \
            got["reason"]["S"] != described["cause"]:
        raise AssertionError(f"{key}: item {got}")
    return described


def block(ctx: Any, picture: bytes, reason: str) -> str:
    """Put a picture's difference hash in the blocked-content table (as an operator would)."""
    code = str(ctx.root / "functions" / "image_pipeline" / "pipeline")
    if code not in sys.path:
        sys.path.insert(0, code)
    from ip_images import dhash  # the pipeline's own hash, so both sides agree

    with Image.open(io.BytesIO(picture)) as img:
        digest = dhash(img.convert("RGB"))
    ctx.client("dynamodb").put_item(TableName=ctx.outputs["BlockedContentTableName"],
                                    Item={"dhash": {"S": digest}, "reason": {"S": reason}})
    return digest


def run(ctx: Any) -> None:
    forbidden = photo(1200, 900, seed=9)
    digest = block(ctx, forbidden, "demo: known bad picture")
    ctx.step(f"blocked one picture (dHash {digest})")
    good = {"uploads/demo/beach photo.jpg": photo(1600, 1000, seed=1),
            "uploads/demo/logo.png": transparent_png(),
            "uploads/demo/anim.gif": animated_gif()}
    for key, body in good.items():
        upload(ctx, key, body)
    for key, body in good.items():
        got = check_good(ctx, key, body)
        ctx.step(f"{key}: SUCCEEDED, {got['width']['N']}x{got['height']['N']} "
                 f"{got['format']['S']}, renditions {sorted(got['renditions']['M'])}")
    # The blocked picture, re-encoded smaller: still recognised.
    copy = io.BytesIO()
    Image.open(io.BytesIO(forbidden)).resize((900, 675)).save(copy, format="JPEG", quality=70)
    bad = bad_uploads(copy.getvalue())
    for key, (body, _, _) in bad.items():
        upload(ctx, key, body)
    for key, (_, error, phrase) in bad.items():
        described = check_bad(ctx, key, error, phrase)
        ctx.step(f"{key}: FAILED {error}: {described['cause']}")
    ctx.step("every bad upload FAILED with its reason, no rendition left, item REJECTED")
