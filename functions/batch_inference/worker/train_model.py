"""Train the shipped churn model (models/churn-mlp-v1.npz) on synthetic customers, numpy only.

    .venv/bin/python functions/batch_inference/worker/train_model.py [OUT.npz]

A one-hidden-layer MLP (8 -> 16 relu -> 1 sigmoid), full-batch Adam on the log loss, fixed
seeds: the same file comes out on every run (tests check that). Training takes about a second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from datagen import FEATURES, labelled
from model_format import Model, dumps

HERE = Path(__file__).resolve().parent
SHIPPED = HERE / "models" / "churn-mlp-v1.npz"
TRAIN_ROWS, TEST_ROWS, HIDDEN, EPOCHS, LR = 20_000, 5_000, 16, 400, 0.03


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p))
    ranks[order] = np.arange(1, len(p) + 1)
    pos = y == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def train(seed: int = 2024) -> Model:
    """The trained model; deterministic for a given seed."""
    data, test = labelled(TRAIN_ROWS, seed), labelled(TEST_ROWS, seed + 100)
    x = data[FEATURES].to_numpy(dtype=np.float64)
    y = data["churn"].to_numpy(dtype=np.float64)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    xs = (x - mean) / scale
    rng = np.random.default_rng(seed)
    params = [rng.normal(0, np.sqrt(2 / len(FEATURES)), (len(FEATURES), HIDDEN)), np.zeros(HIDDEN),
              rng.normal(0, np.sqrt(1 / HIDDEN), (HIDDEN, 1)), np.zeros(1)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, EPOCHS + 1):
        w0, b0, w1, b1 = params
        pre = xs @ w0 + b0
        h = np.maximum(pre, 0)
        p = 1 / (1 + np.exp(-(h @ w1 + b1)[:, 0]))
        d_out = ((p - y) / len(y))[:, None]
        d_h = (d_out @ w1.T) * (pre > 0)
        grads = [xs.T @ d_h, d_h.sum(axis=0), h.T @ d_out, d_out.sum(axis=0)]
        for i, g in enumerate(grads):
            m[i] = 0.9 * m[i] + 0.1 * g
            v[i] = 0.999 * v[i] + 0.001 * g * g
            params[i] = params[i] - LR * (m[i] / (1 - 0.9 ** t)) / (
                np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    model = Model(name="churn-mlp-v1", features=list(FEATURES), activations=["relu", "sigmoid"],
                  mean=mean, scale=scale, weights=[params[0], params[2]],
                  biases=[params[1], params[3]], output="prediction", threshold=0.5)
    xt = test[FEATURES].to_numpy(dtype=np.float64)
    yt = test["churn"].to_numpy()
    pt = model.predict(xt)
    model.training = {"seed": seed, "train_rows": TRAIN_ROWS, "test_rows": TEST_ROWS,
                      "epochs": EPOCHS, "test_auc": round(_auc(yt, pt), 4),
                      "test_accuracy": round(float(((pt >= 0.5) == yt).mean()), 4),
                      "test_churn_rate": round(float(yt.mean()), 4)}
    return model


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else SHIPPED
    model = train()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(dumps(model))
    print(f"{out}: {model.training}")


if __name__ == "__main__":
    main(sys.argv[1:])
