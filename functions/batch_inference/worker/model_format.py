"""The model artifact format the worker loads: one `.npz` file, numpy only, no pickle.

Arrays in the file:
- `spec`: a 0-d unicode array holding JSON:
  {"format": "npz-mlp/1", "name": str, "features": [column, ...], "activations": [...],
   "output": "prediction", "threshold": 0.5, "training": {...}}
- `mean`, `scale`: per-feature standardisation, x' = (x - mean) / scale;
- `W0`, `b0`, `W1`, `b1`, ...: one dense layer per activation, W{i} of shape (in, out).

The output column is the last layer's single unit (with "sigmoid" a probability). Loading uses
`allow_pickle=False`, so an artifact cannot run code, and every shape is checked against the
spec before the model is used.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FORMAT = "npz-mlp/1"
ACTIVATIONS = ("relu", "tanh", "sigmoid", "identity")


class ModelError(ValueError):
    """The artifact is not a usable npz-mlp/1 model."""


def _activate(name: str, x: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(x, 0.0, out=x)
    if name == "tanh":
        return np.tanh(x, out=x)
    if name == "sigmoid":
        # exp of a large negative number overflows harmlessly to inf -> 0.
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-x))
    return x


@dataclass
class Model:
    """A multilayer perceptron over named feature columns."""

    name: str
    features: list[str]
    activations: list[str]
    mean: np.ndarray
    scale: np.ndarray
    weights: list[np.ndarray]
    biases: list[np.ndarray]
    output: str = "prediction"
    threshold: float | None = None
    training: dict[str, Any] = field(default_factory=dict)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The output for each row of `x` (rows x features, in `features` order)."""
        h = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        for w, b, act in zip(self.weights, self.biases, self.activations, strict=True):
            h = _activate(act, h @ w + b)
        return h[:, 0]

    def spec(self) -> dict[str, Any]:
        return {"format": FORMAT, "name": self.name, "features": self.features,
                "activations": self.activations, "output": self.output,
                "threshold": self.threshold, "training": self.training}


def dumps(model: Model) -> bytes:
    """The artifact bytes of `model`."""
    arrays: dict[str, np.ndarray] = {"spec": np.array(json.dumps(model.spec(), sort_keys=True)),
                                     "mean": model.mean, "scale": model.scale}
    for i, (w, b) in enumerate(zip(model.weights, model.biases, strict=True)):
        arrays[f"W{i}"], arrays[f"b{i}"] = w, b
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def loads(data: bytes) -> Model:
    """The model in artifact bytes; ModelError naming what is wrong otherwise."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError) as err:
        raise ModelError(f"not an npz archive without pickled objects ({err})") from err
    try:
        spec = json.loads(str(arrays.pop("spec")))
    except (KeyError, ValueError) as err:
        raise ModelError("the archive has no JSON 'spec' array") from err
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ModelError(f"spec.format must be {FORMAT!r}")
    features, acts = spec.get("features"), spec.get("activations")
    if (not isinstance(features, list) or not features
            or not all(isinstance(f, str) for f in features)
            or len(set(features)) != len(features)):
        raise ModelError("spec.features must be a list of distinct column names")
    if not isinstance(acts, list) or not acts or any(a not in ACTIVATIONS for a in acts):
        raise ModelError(f"spec.activations must list one of {ACTIVATIONS} per layer")
    n = len(features)
    mean, scale = arrays.get("mean"), arrays.get("scale")
    if mean is None or scale is None or mean.shape != (n,) or scale.shape != (n,):
        raise ModelError(f"mean and scale must have shape ({n},)")
    if np.any(scale == 0) or not np.all(np.isfinite(scale)):
        raise ModelError("scale must be finite and non-zero")
    weights, biases, width = [], [], n
    for i in range(len(acts)):
        w, b = arrays.get(f"W{i}"), arrays.get(f"b{i}")
        if w is None or b is None or w.ndim != 2 or w.shape[0] != width or b.shape != w.shape[1:]:
            raise ModelError(f"layer {i}: W{i} must be ({width}, k) and b{i} (k,)")
        weights.append(w.astype(np.float64))
        biases.append(b.astype(np.float64))
        width = w.shape[1]
    if width != 1:
        raise ModelError(f"the last layer must have one output unit, not {width}")
    threshold = spec.get("threshold")
    return Model(name=str(spec.get("name", "model")), features=features, activations=acts,
                 mean=mean.astype(np.float64), scale=scale.astype(np.float64), weights=weights,
                 biases=biases, output=str(spec.get("output") or "prediction"),
                 threshold=None if threshold is None else float(threshold),
                 training=spec.get("training") or {})
