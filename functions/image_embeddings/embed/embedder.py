"""Image -> 512-d vector: preprocessing (Pillow + numpy) and the MXNet ResNet-18 features.

Preprocessing, as the catalogue fixes it: RGB (grayscale and palette images expanded, alpha
dropped), resize so the short side is 224 (bilinear), centre crop 224 x 224, scale to [0, 1],
normalise with the ImageNet mean and standard deviation, channels first (NCHW).

The network is the model zoo's ResNet-18 v1 `features` block (up to the global average pool),
loaded from an exported symbol + params pair; its output (N, 512, 1, 1) is flattened.
"""

from __future__ import annotations

import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

SIZE = 224
DIMENSION = 512
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


class ImageRejected(ValueError):
    """This file is skipped; the message is "<kind>: <detail>", kind one of "not an image",
    "corrupt image", "huge", "missing"."""


def preprocess(data: bytes, max_pixels: int) -> np.ndarray:
    """The (3, 224, 224) float32 network input of an encoded image."""
    try:
        with warnings.catch_warnings():
            # Pillow warns before its own DecompressionBombError limit; ours is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(f"huge: {width}x{height} pixels is over the "
                                    f"{max_pixels:,}-pixel limit")
            image.load()
    except UnidentifiedImageError as err:
        raise ImageRejected("not an image: Pillow cannot identify the format") from err
    except Image.DecompressionBombError as err:
        raise ImageRejected(f"huge: {err}") from err
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt data
        if isinstance(err, ImageRejected):
            raise
        raise ImageRejected(f"corrupt image: {err}") from err
    if min(width, height) < 1:
        raise ImageRejected("corrupt image: zero width or height")
    rgb = image.convert("RGB")
    scale = SIZE / min(width, height)
    new_w, new_h = max(SIZE, round(width * scale)), max(SIZE, round(height * scale))
    rgb = rgb.resize((new_w, new_h), Image.BILINEAR)
    left, top = (new_w - SIZE) // 2, (new_h - SIZE) // 2
    rgb = rgb.crop((left, top, left + SIZE, top + SIZE))
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    return ((pixels - MEAN) / STD).transpose(2, 0, 1).copy()


class Embedder:
    """The exported features network, ready to embed preprocessed batches."""

    def __init__(self, symbol_json: bytes, params: bytes) -> None:
        import mxnet as mx  # heavy: only where the network runs
        from mxnet import gluon

        self._mx = mx
        with tempfile.TemporaryDirectory() as tmp:
            sym, par = Path(tmp) / "model-symbol.json", Path(tmp) / "model-0000.params"
            sym.write_bytes(symbol_json)
            par.write_bytes(params)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # mxnet's deprecation chatter on import
                self.net = gluon.SymbolBlock.imports(str(sym), ["data"], str(par),
                                                     ctx=mx.cpu())

    def embed(self, batch: np.ndarray) -> np.ndarray:
        """(N, 3, 224, 224) -> (N, 512) float32."""
        out = self.net(self._mx.nd.array(batch, dtype="float32")).asnumpy()
        vectors = out.reshape(len(batch), -1).astype(np.float32)
        if vectors.shape[1] != DIMENSION:
            raise ValueError(f"the model gives {vectors.shape[1]}-d vectors, not {DIMENSION}")
        return vectors
