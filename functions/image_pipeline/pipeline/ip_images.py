"""image_pipeline's image work, free of AWS: validation, renditions, the content check.

Every rejection is an ImageRejected subclass whose class name becomes the execution's Error
(the state machine's Fail state shows it with the message as its Cause).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from PIL import Image, ImageOps, ImageStat, UnidentifiedImageError

# Pillow's format name -> the Content-Type the renditions and the item carry.
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                 "GIF": "image/gif"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
# A bands' standard deviation below this is a single flat colour (JPEG noise stays under 1).
BLANK_STDDEV = 2.0


class ImageRejected(Exception):
    """The upload is not an image the pipeline accepts; the message says why."""


class ImageMissing(ImageRejected):
    """The object is gone (deleted or overwritten before the execution read it)."""


class InvalidImageType(ImageRejected):
    """Not an image, or a format outside the accepted ones."""


class ImageTooLarge(ImageRejected):
    """More bytes than the limit."""


class ImageDimensionsOutOfRange(ImageRejected):
    """Too small, too large a side, or too many pixels (a decompression bomb)."""


class ImageCorrupt(ImageRejected):
    """Recognised, but it does not decode (truncated or damaged)."""


class RenditionFailed(ImageRejected):
    """A size or format could not be made (the Parallel branch reported it)."""


class ContentRejected(ImageRejected):
    """The content check refused the picture (blank, or close to a blocked one)."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 10 * 1024 * 1024
    min_side: int = 16
    max_side: int = 8000
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    width: int
    height: int
    mode: str
    frames: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RenditionSpec:
    """One output: fit inside width x height ("contain") or crop to it ("cover")."""

    name: str
    width: int
    height: int
    format: str
    fit: str = "contain"
    quality: int = 82

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> RenditionSpec:
        try:
            spec = cls(name=str(value["name"]), width=int(value["width"]),
                       height=int(value["height"]), format=str(value["format"]).upper(),
                       fit=str(value.get("fit", "contain")),
                       quality=int(value.get("quality", 82)))
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"bad rendition spec {dict(value)!r}: {err}") from err
        if spec.format not in CONTENT_TYPES or spec.fit not in ("contain", "cover"):
            raise ValueError(f"bad rendition spec {dict(value)!r}")
        if spec.width < 1 or spec.height < 1:
            raise ValueError(f"bad rendition size {spec.width}x{spec.height}")
        return spec

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]


def inspect_image(data: bytes, limits: Limits = Limits()) -> ImageInfo:
    """Validate type, size and dimensions, then decode it fully; the facts on success."""
    if not data:
        raise ImageCorrupt("the object is empty (0 bytes)")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"{len(data)} bytes is over the limit of {limits.max_bytes} bytes")
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (width, height), mode = img.format, img.size, img.mode
            frames = int(getattr(img, "n_frames", 1))
    except UnidentifiedImageError:
        raise InvalidImageType("not an image (no known image signature)") from None
    except Image.DecompressionBombError as err:
        # Pillow refuses over twice its own pixel limit at open, before our checks below.
        raise ImageDimensionsOutOfRange(f"too many pixels: {err}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ImageCorrupt(f"unreadable image header: {err}") from None
    if fmt not in CONTENT_TYPES:
        raise InvalidImageType(f"{fmt} images are not accepted (accepted: "
                               f"{', '.join(sorted(CONTENT_TYPES))})")
    # Checked before decoding: the header's size is all a decompression bomb needs to tell.
    if min(width, height) < limits.min_side:
        raise ImageDimensionsOutOfRange(
            f"{width}x{height} is smaller than {limits.min_side} px on a side")
    if max(width, height) > limits.max_side:
        raise ImageDimensionsOutOfRange(
            f"{width}x{height} is larger than {limits.max_side} px on a side")
    if width * height > limits.max_pixels:
        raise ImageDimensionsOutOfRange(
            f"{width}x{height} is over {limits.max_pixels} pixels")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # a truncated file fails here, not in a rendition branch
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise ImageCorrupt(f"{fmt} data does not decode: {err}") from None
    return ImageInfo(format=fmt, content_type=CONTENT_TYPES[fmt], width=width, height=height,
                     mode=mode, frames=frames, bytes=len(data))


def _prepared(img: Image.Image, target_format: str) -> Image.Image:
    img = ImageOps.exif_transpose(img)  # phones store rotation in EXIF; renditions apply it
    has_alpha = img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info)
    if target_format == "JPEG":
        if has_alpha:
            # JPEG has no alpha: flatten on white rather than letting transparent pixels go black.
            rgba = img.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return img.convert("RGB")
    return img.convert("RGBA" if has_alpha else "RGB")


def make_rendition(data: bytes, spec: RenditionSpec) -> tuple[bytes, int, int]:
    """(encoded bytes, width, height) of one rendition; never upscales."""
    with Image.open(io.BytesIO(data)) as src:
        src.seek(0)  # first frame of an animation
        img = _prepared(src, spec.format)
    if spec.fit == "cover":
        side_w = min(spec.width, img.width)
        side_h = min(spec.height, img.height)
        img = ImageOps.fit(img, (side_w, side_h), method=Image.Resampling.LANCZOS)
    else:
        img = img.copy()
        img.thumbnail((spec.width, spec.height), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    options: dict[str, Any] = {}
    if spec.format in ("JPEG", "WEBP"):
        options["quality"] = spec.quality
    if spec.format == "JPEG":
        options.update(optimize=True, progressive=True)
    img.save(out, format=spec.format, **options)
    return out.getvalue(), img.width, img.height


def dhash(img: Image.Image, size: int = 8) -> str:
    """64-bit difference hash (hex): near-identical pictures differ in a few bits."""
    gray = img.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    px = list(gray.getdata())
    bits = 0
    for row in range(size):
        for col in range(size):
            left, right = px[row * (size + 1) + col], px[row * (size + 1) + col + 1]
            bits = (bits << 1) | (1 if left > right else 0)
    return f"{bits:0{size * size // 4}x}"


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def check_content(data: bytes, blocked: Iterable[Mapping[str, Any]] = (),
                  max_distance: int = 6) -> dict[str, Any]:
    """What the picture looks like; ContentRejected for a blank picture or a blocked one.

    `blocked`: items {"dhash": hex, "reason": text}; a picture within `max_distance` bits of
    one is refused (re-encoded, resized or slightly edited copies included).
    """
    with Image.open(io.BytesIO(data)) as src:
        src.seek(0)
        rgb = src.convert("RGB")
    stat = ImageStat.Stat(rgb)
    if max(stat.stddev) < BLANK_STDDEV:
        colour = "#{:02x}{:02x}{:02x}".format(*(round(m) for m in stat.mean))
        raise ContentRejected(f"blank image: a single flat colour ({colour})")
    digest = dhash(rgb)
    for item in blocked:
        other = str(item.get("dhash", ""))
        if not other:
            continue
        distance = hamming(digest, other)
        if distance <= max_distance:
            reason = item.get("reason") or "blocked"
            raise ContentRejected(f"matches blocked image {other} ({reason}; {distance} bits "
                                  f"apart)")
    r, g, b = stat.mean
    grayscale = _channels_equal(rgb)
    brightness = round(0.299 * r + 0.587 * g + 0.114 * b, 1)
    return {"dhash": digest, "brightness": brightness, "grayscale": grayscale,
            "mean_color": f"#{round(r):02x}{round(g):02x}{round(b):02x}",
            "dark": brightness < 40}


def _channels_equal(rgb: Image.Image, tolerance: int = 8) -> bool:
    small = rgb.resize((32, 32))
    return all(max(p) - min(p) <= tolerance for p in small.getdata())
