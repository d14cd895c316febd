"""ip_images: validation, renditions and the content check on generated pictures."""

from __future__ import annotations

import io
import struct
import zlib

import ip_images as im
import pytest
from PIL import Image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **kw)
    return out.getvalue()


def _png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_valid_photo_facts(ip_demo) -> None:
    info = im.inspect_image(ip_demo.photo(640, 480))
    assert (info.format, info.content_type, info.width, info.height, info.frames) == (
        "JPEG", "image/jpeg", 640, 480, 1)


def test_animated_gif_counts_frames(ip_demo) -> None:
    assert im.inspect_image(ip_demo.animated_gif(frames=3)).frames == 3


@pytest.mark.parametrize(("maker", "error", "phrase"), [
    (lambda d: b"", im.ImageCorrupt, "empty"),
    (lambda d: b"%PDF-1.4 not an image", im.InvalidImageType, "not an image"),
    (lambda d: d.tiff(), im.InvalidImageType, "TIFF images are not accepted"),
    (lambda d: d.strip(), im.ImageDimensionsOutOfRange, "smaller than 16 px"),
    (lambda d: d.truncated(), im.ImageCorrupt, "does not decode"),
])
def test_invalid_uploads_are_refused_with_the_reason(ip_demo, maker, error, phrase) -> None:
    with pytest.raises(error, match=phrase):
        im.inspect_image(maker(ip_demo))


def test_limits_on_bytes_sides_and_pixels(ip_demo) -> None:
    data = ip_demo.photo(400, 300)
    with pytest.raises(im.ImageTooLarge, match=f"{len(data)} bytes is over"):
        im.inspect_image(data, im.Limits(max_bytes=len(data) - 1))
    with pytest.raises(im.ImageDimensionsOutOfRange, match="larger than 399 px"):
        im.inspect_image(data, im.Limits(max_side=399))
    with pytest.raises(im.ImageDimensionsOutOfRange, match="over 100000 pixels"):
        im.inspect_image(data, im.Limits(max_pixels=100_000))


def test_bomb_is_refused_from_its_header_before_decoding() -> None:
    # A PNG header announcing 20000 x 20000 (decoding would need 400 MB): refused unread.
    data = _png_header(20000, 20000)
    assert len(data) < 100
    with pytest.raises(im.ImageDimensionsOutOfRange, match="400000000 pixels"):
        im.inspect_image(data)
    # Under Pillow's own guard, ours still refuses it from the header alone.
    data = _encode(Image.new("L", (8100, 20), 0), "PNG")
    with pytest.raises(im.ImageDimensionsOutOfRange, match="8100x20 is larger than 8000"):
        im.inspect_image(data)


def test_renditions_sizes_formats_and_no_upscaling(ip_demo) -> None:
    src = ip_demo.photo(1600, 1000)
    body, w, h = im.make_rendition(src, im.RenditionSpec("small", 320, 320, "WEBP"))
    assert (w, h) == (320, 200)
    assert Image.open(io.BytesIO(body)).format == "WEBP"
    body, w, h = im.make_rendition(src, im.RenditionSpec("thumb", 128, 128, "JPEG", "cover"))
    assert (w, h) == (128, 128) and Image.open(io.BytesIO(body)).size == (128, 128)
    _, w, h = im.make_rendition(src, im.RenditionSpec("large", 2048, 2048, "WEBP"))
    assert (w, h) == (1600, 1000)  # never larger than the original


def test_alpha_is_flattened_on_white_for_jpeg(ip_demo) -> None:
    body, _, _ = im.make_rendition(ip_demo.transparent_png(),
                                   im.RenditionSpec("m", 600, 600, "JPEG"))
    img = Image.open(io.BytesIO(body)).convert("RGB")
    corner = img.getpixel((5, 5))
    assert all(c > 245 for c in corner)  # transparent corner became white, not black
    assert img.getpixel((60, 300))[0] > 150  # the red rectangle is still red


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (300, 100), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    data = _encode(img, "JPEG", exif=exif)
    _, w, h = im.make_rendition(data, im.RenditionSpec("m", 1000, 1000, "JPEG"))
    assert (w, h) == (100, 300)


def test_bad_rendition_spec() -> None:
    with pytest.raises(ValueError, match="bad rendition spec"):
        im.RenditionSpec.from_dict({"name": "x", "width": 10, "height": 10, "format": "BMP"})
    with pytest.raises(ValueError, match="bad rendition spec"):
        im.RenditionSpec.from_dict({"name": "x", "width": "wide", "height": 10,
                                    "format": "JPEG"})


def test_content_check_blank_blocked_and_facts(ip_demo) -> None:
    with pytest.raises(im.ContentRejected, match="blank image.*#ffffff"):
        im.check_content(ip_demo.blank())
    picture = ip_demo.photo(800, 600, seed=3)
    facts = im.check_content(picture)
    assert len(facts["dhash"]) == 16 and facts["grayscale"] is False
    # A resized, re-encoded copy is within a few bits; a different picture is far away.
    copy = im.make_rendition(picture, im.RenditionSpec("s", 320, 320, "WEBP"))[0]
    other = im.check_content(ip_demo.photo(800, 600, seed=4))["dhash"]
    assert im.hamming(im.check_content(copy)["dhash"], facts["dhash"]) <= 6
    assert im.hamming(other, facts["dhash"]) > 6
    with pytest.raises(im.ContentRejected, match=r"matches blocked image .*\(known bad"):
        im.check_content(copy, [{"dhash": facts["dhash"], "reason": "known bad"}])
    assert im.check_content(picture, [{"dhash": other, "reason": "x"}])["dhash"] == facts[
        "dhash"]


def test_grayscale_is_recognised() -> None:
    img = Image.linear_gradient("L").resize((200, 200)).convert("RGB")
    assert im.check_content(_encode(img, "PNG"))["grayscale"] is True
