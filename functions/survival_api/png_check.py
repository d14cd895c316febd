"""Read back the PNGs R draws, so the tests and the demo can check what is on them.

A small decoder (8-bit greyscale, RGB, palette, grey+alpha and RGBA, non-interlaced: what R's
cairo png() device writes), standard library only: no imaging package is installed here.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

# The two curve colours km_plot draws (low, high), as RGB.
LOW_COLOUR = (0x1F, 0x77, 0xB4)
HIGH_COLOUR = (0xD6, 0x27, 0x28)


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    pixels: list[tuple[int, int, int]]  # RGB, row after row

    def count(self, colour: tuple[int, int, int]) -> int:
        return self.colours()[colour]

    def colours(self) -> Counter[tuple[int, int, int]]:
        return Counter(self.pixels)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def decode(data: bytes) -> Image:
    """The RGB pixels of a PNG; ValueError for anything that is not a PNG this can read."""
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG (bad signature)")
    pos, idat, palette = len(SIGNATURE), b"", b""
    width = height = depth = colour_type = interlace = -1
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(kind + body) != crc:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    if depth != 8 or colour_type not in _CHANNELS or interlace != 0:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour_type}, "
                         f"interlace {interlace}")
    bpp = _CHANNELS[colour_type]
    raw = zlib.decompress(idat)
    stride = width * bpp
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
            elif kind != 0:
                raise ValueError(f"bad filter type {kind} in row {row}")
        for x in range(width):
            px = line[x * bpp:(x + 1) * bpp]
            if colour_type == 3:
                pixels.append(tuple(palette[3 * px[0]:3 * px[0] + 3]))  # type: ignore[arg-type]
            elif colour_type in (0, 4):
                pixels.append((px[0], px[0], px[0]))
            else:
                pixels.append((px[0], px[1], px[2]))
        previous = line
    return Image(width, height, pixels)
