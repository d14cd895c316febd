"""The container entry point (SageMaker Processing mode) runs here, as a process of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datagen
import model_format
import numpy as np
import pandas as pd
import pytest
import train_model

WORKER = Path(__file__).resolve().parents[3] / "functions" / "batch_inference" / "worker"


def _run(*args: str) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, str(WORKER / "container.py"), *args],
                          capture_output=True, text=True, timeout=120, cwd=WORKER)
    return proc.returncode, json.loads(proc.stdout)


@pytest.mark.slow
def test_local_mode_scores_every_file_with_every_core(tmp_path: Path) -> None:
    src, dst = tmp_path / "input", tmp_path / "output"
    (src / "day=1").mkdir(parents=True)
    frames = {}
    for i in range(4):
        frame = datagen.customers(1000, seed=40 + i)
        name = f"day=1/p{i}.csv" if i % 2 else f"p{i}.csv"
        frame.to_csv(src / name, index=False)
        frames[name] = frame
    code, summary = _run("local", "--model", str(train_model.SHIPPED), "--input", str(src),
                         "--output", str(dst), "--processes", "2")
    assert code == 0 and summary["files_scored"] == 4 and summary["rows_scored"] == 4000
    assert summary["processes"] == 2
    model = model_format.loads(train_model.SHIPPED.read_bytes())
    for name, frame in frames.items():
        out = pd.read_csv(dst / name)
        np.testing.assert_allclose(out["prediction"],
                                   model.predict(frame[model.features].to_numpy(float)),
                                   rtol=1e-12)
    (src / "broken.csv").write_text("customer_id\nC1\n")
    code, summary = _run("local", "--model", str(train_model.SHIPPED), "--input", str(src),
                         "--output", str(dst))
    assert code == 1 and summary["files_failed"] == 1
    (bad,) = [r for r in summary["file_reports"] if r["status"] == "FAILED"]
    assert bad["file"].endswith("broken.csv") and "missing feature column" in bad["error"]
