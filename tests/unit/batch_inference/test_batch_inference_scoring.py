"""Scoring one file: every format, the prediction equal to the model's, bad files refused."""

from __future__ import annotations

import gzip
import io

import datagen
import model_format
import numpy as np
import pandas as pd
import pytest
import scoring
import train_model

MODEL = model_format.loads(train_model.SHIPPED.read_bytes())


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_each_format_keeps_the_columns_and_adds_the_prediction(fmt: str) -> None:
    frame = datagen.customers(300, seed=5)
    data = scoring.write_table(frame, fmt)
    out = scoring.score_bytes(MODEL, data, f"inputs/x/part.{fmt}")
    assert out.rows == 300 and out.missing == 0
    back = scoring.read_table(out.data, fmt)
    assert list(back.columns) == [*frame.columns, "prediction"]
    pd.testing.assert_frame_equal(back[frame.columns], frame, check_dtype=False)
    np.testing.assert_allclose(back["prediction"],
                               MODEL.predict(frame[MODEL.features].to_numpy(float)), rtol=1e-12)


def test_gzip_output_is_byte_identical_on_a_rerun() -> None:
    data = scoring.write_table(datagen.customers(50, seed=1), "csv.gz")
    assert (scoring.score_bytes(MODEL, data, "a.csv.gz").data
            == scoring.score_bytes(MODEL, data, "a.csv.gz").data)
    assert gzip.decompress(scoring.score_bytes(MODEL, data, "a.csv.gz").data).startswith(
        b"customer_id,")


def test_rows_with_a_missing_feature_are_kept_unscored_and_counted() -> None:
    frame = datagen.customers(10, seed=2)
    frame.loc[[3, 7], "usage_gb"] = np.nan
    scored, missing = scoring.score_frame(MODEL, frame)
    assert missing == 2
    assert scored["prediction"].isna().tolist() == [i in (3, 7) for i in range(10)]


@pytest.mark.parametrize(("data", "key", "message"), [
    (b"customer_id,age\nC1,40\n", "a.csv", "missing feature column"),
    (b"\x00\x01garbage", "a.csv.gz", "cannot parse"),
    (b"x", "a.json", "not a .csv"),
    (b"", "a.csv", "cannot parse"),
])
def test_unusable_files_raise_input_file_error(data: bytes, key: str, message: str) -> None:
    with pytest.raises(scoring.InputFileError, match=message):
        scoring.score_bytes(MODEL, data, key)


def test_non_numeric_features_are_refused() -> None:
    frame = datagen.customers(3, seed=2).astype({"age": object})
    frame.loc[1, "age"] = "forty"
    with pytest.raises(scoring.InputFileError, match="non-numeric"):
        scoring.score_frame(MODEL, frame)


def test_output_keys_keep_the_relative_path() -> None:
    assert scoring.output_key("in/a/b.csv", "in/", "out/") == "out/a/b.csv"
    with pytest.raises(scoring.InputFileError):
        scoring.output_key("other/b.csv", "in/", "out/")


def test_read_table_reads_what_pandas_wrote() -> None:
    buf = io.BytesIO()
    datagen.customers(5, seed=1).to_csv(buf, index=False)
    assert len(scoring.read_table(buf.getvalue(), "csv")) == 5
