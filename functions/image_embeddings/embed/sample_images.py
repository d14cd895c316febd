"""Generated test images (nothing is downloaded): smooth colour fields, variants, bad files.

smooth(seed, w, h) is low-frequency noise (a few random colours bilinearly upsampled) with a
seeded shape on top, so different seeds look different and a resized or re-encoded copy of one
stays close to it. Used by the tests, the demo and the benchmark.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def smooth(seed: int, width: int = 320, height: int = 240) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = (rng.random((4, 5, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(coarse).resize((width, height), Image.BILINEAR)
    draw = ImageDraw.Draw(image)
    x, y = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    colour = tuple(int(c) for c in rng.integers(0, 256, 3))
    if seed % 2:
        draw.ellipse((x, y, x + width // 3, y + height // 3), fill=colour)
    else:
        draw.rectangle((x, y, x + width // 3, y + height // 4), fill=colour)
    return image


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def variant(image: Image.Image) -> Image.Image:
    """The same picture, 80 % of the size (what a re-upload or a thumbnail looks like)."""
    return image.resize((image.width * 4 // 5, image.height * 4 // 5), Image.BILINEAR)


def truncated_jpeg(seed: int) -> bytes:
    """A JPEG cut off half way: the header reads, the pixels do not."""
    data = encode(smooth(seed), "JPEG", quality=90)
    return data[: len(data) // 2]
