"""Synthetic customer data: what the shipped churn model was trained on and what jobs score.

Every value comes from a seeded numpy Generator, so the same (seed, rows) gives the same
table on every machine. The churn label follows a known logistic rule with interactions, so a
small network has something real to learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ["tenure_months", "monthly_charges", "support_calls", "usage_gb",
            "contract_months", "late_payments", "age", "num_services"]


def customers(rows: int, seed: int, id_offset: int = 0) -> pd.DataFrame:
    """`rows` customers: customer_id plus the model's feature columns."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(0, 73, rows)
    contract = rng.choice([1, 12, 24], rows, p=[0.5, 0.3, 0.2])
    services = rng.integers(1, 7, rows)
    charges = np.round(20 + 12 * services + rng.normal(0, 8, rows).clip(-15, 30), 2)
    return pd.DataFrame({
        "customer_id": [f"C{id_offset + i:09d}" for i in range(rows)],
        "tenure_months": tenure,
        "monthly_charges": charges,
        "support_calls": rng.poisson(1.2, rows),
        "usage_gb": np.round(rng.gamma(2.0, 20.0, rows), 3),
        "contract_months": contract,
        "late_payments": rng.poisson(0.4, rows),
        "age": rng.integers(18, 81, rows),
        "num_services": services,
    })


def churn_probability(frame: pd.DataFrame) -> np.ndarray:
    """The true churn probability of each customer (the rule the labels are drawn from)."""
    z = (-1.0 - 0.06 * frame["tenure_months"] + 0.025 * frame["monthly_charges"]
         + 0.55 * frame["support_calls"] + 0.7 * frame["late_payments"]
         - 1.4 * (frame["contract_months"] >= 12) - 0.012 * frame["usage_gb"]
         + 0.04 * frame["support_calls"] * frame["late_payments"] * 3
         - 0.01 * (frame["age"] - 45).abs() * (frame["contract_months"] == 1))
    return 1.0 / (1.0 + np.exp(-z.to_numpy(dtype=np.float64)))


def labelled(rows: int, seed: int) -> pd.DataFrame:
    """Customers with a `churn` label (0/1) drawn from churn_probability."""
    frame = customers(rows, seed)
    rng = np.random.default_rng(seed + 1)
    frame["churn"] = (rng.random(rows) < churn_probability(frame)).astype(np.int64)
    return frame
