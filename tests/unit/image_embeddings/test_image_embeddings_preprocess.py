"""Preprocessing as the catalogue fixes it, and the images that must be skipped."""

from __future__ import annotations

import numpy as np
import pytest
import sample_images
from embedder import MEAN, SIZE, STD, ImageRejected, preprocess
from PIL import Image

BIG = 10**8


def _pixels(x: np.ndarray) -> np.ndarray:
    """Back from the network input to [0, 1] RGB, HWC."""
    return x.transpose(1, 2, 0) * STD + MEAN


def test_shape_dtype_and_normalisation() -> None:
    x = preprocess(sample_images.encode(Image.new("RGB", (300, 300), (255, 0, 128)), "PNG"),
                   BIG)
    assert x.shape == (3, SIZE, SIZE) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 0], (np.array([1.0, 0.0, 128 / 255]) - MEAN) / STD,
                               rtol=1e-6)


def test_short_side_to_224_then_centre_crop() -> None:
    # 448 x 224: the short side is already 224; the centre 224 columns are blue, the outer
    # quarters red, so a centre crop sees only blue.
    image = Image.new("RGB", (448, 224), (255, 0, 0))
    image.paste((0, 0, 255), (112, 0, 336, 224))
    px = _pixels(preprocess(sample_images.encode(image, "PNG"), BIG))
    np.testing.assert_allclose(px[:, 2:-2], np.broadcast_to([0, 0, 1.0], (224, 220, 3)),
                               atol=1e-5)
    # 112 x 336 portrait: scaled x2 to 224 x 672; the crop keeps rows 224..447 (the middle).
    tall = Image.new("RGB", (112, 336), (0, 255, 0))
    tall.paste((255, 255, 255), (0, 112, 112, 224))
    px = _pixels(preprocess(sample_images.encode(tall, "PNG"), BIG))
    assert px.shape == (224, 224, 3)
    np.testing.assert_allclose(px[4:-4], 1.0, atol=1e-5)


def test_grayscale_is_expanded_to_three_equal_channels() -> None:
    gray = sample_images.smooth(5).convert("L")
    px = _pixels(preprocess(sample_images.encode(gray, "PNG"), BIG))
    np.testing.assert_allclose(px[..., 0], px[..., 1], atol=1e-5)
    np.testing.assert_allclose(px[..., 1], px[..., 2], atol=1e-5)
    rgb = _pixels(preprocess(sample_images.encode(gray.convert("RGB"), "PNG"), BIG))
    np.testing.assert_allclose(px, rgb, atol=1e-5)


@pytest.mark.parametrize("mode", ["RGBA", "P", "CMYK", "I;16"])
def test_other_modes_become_rgb(mode: str) -> None:
    image = sample_images.smooth(2).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    assert preprocess(sample_images.encode(image, fmt), BIG).shape == (3, SIZE, SIZE)


@pytest.mark.parametrize(("data", "kind"), [
    (b"%PDF-1.4 not an image", "not an image"),
    (b"", "not an image"),
    (sample_images.truncated_jpeg(3), "corrupt image"),
])
def test_bad_files_are_rejected_with_their_kind(data: bytes, kind: str) -> None:
    with pytest.raises(ImageRejected, match=f"^{kind}: "):
        preprocess(data, BIG)


def test_huge_images_are_rejected_before_decoding() -> None:
    data = sample_images.encode(Image.new("L", (4000, 3000)), "PNG")
    with pytest.raises(ImageRejected, match="^huge: 4000x3000 pixels"):
        preprocess(data, max_pixels=10_000_000)
