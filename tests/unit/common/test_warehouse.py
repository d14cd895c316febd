"""common.warehouse: the embedded SQLite engine for real, Redshift at the Data API edge.

The Redshift Data API cannot run here. Its adapter is checked two ways: a botocore Stubber
asserts the exact requests (SQL text, target, secret) and maps the answers; moto's
redshift-data (which records ExecuteStatement and answers DescribeStatement, but has no
BatchExecuteStatement and never finishes a statement) checks the calls are well formed.
"""

from __future__ import annotations

import io
import threading

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from common.warehouse import (
    Column,
    RedshiftWarehouse,
    SqliteWarehouse,
    Statement,
    WarehouseError,
    from_environment,
    quote_ident,
    sqlite_path,
)

COLUMNS = [Column("campaign_key"), Column("units", "integer"), Column("revenue", "real")]


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def test_quote_ident_refuses_anything_but_identifiers() -> None:
    assert quote_ident("sales") == '"sales"'
    assert quote_ident("dq.accepted") == '"dq"."accepted"'
    for bad in ("a b", 'x"; DROP TABLE y; --', "1abc", "a.b.c", "", None):
        with pytest.raises(WarehouseError):
            quote_ident(bad)
    with pytest.raises(WarehouseError, match="unknown type"):
        Column("a", "money")


def test_sqlite_recreate_and_copy_csv(tmp_path, s3) -> None:
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=s3)
    assert wh.recreate_tables({"sales": COLUMNS}).status == "FINISHED"
    s3.put_object(Bucket="data", Key="k.csv",
                  Body=b"campaign_key,units,revenue\nA,2,3.5\nA,,1\nB,4,\n")
    result = wh.copy_from_s3("sales", COLUMNS, "data", "k.csv")
    assert (result.status, result.rows) == ("FINISHED", 3)
    assert wh.query("SELECT campaign_key, units, revenue FROM sales ORDER BY rowid") == [
        ("A", 2, 3.5), ("A", None, 1.0), ("B", 4, None)]  # empty fields are NULL
    # recreate drops the rows (and would change the columns)
    wh.recreate_tables({"sales": COLUMNS[:1]})
    assert wh.query("SELECT COUNT(*) FROM sales") == [(0,)]
    assert [r[1] for r in wh.query("PRAGMA table_info(sales)")] == ["campaign_key"]


def test_sqlite_copy_parquet_by_column_name(tmp_path, s3) -> None:
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=s3)
    wh.recreate_tables({"sales": COLUMNS})
    frame = pd.DataFrame({"revenue": [1.5, None], "units": [1, 2], "campaign_key": ["A", "B"],
                          "ignored": ["x", "y"]})
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    s3.put_object(Bucket="data", Key="k.parquet", Body=buf.getvalue())
    assert wh.copy_from_s3("sales", COLUMNS, "data", "k.parquet", "parquet").rows == 2
    assert wh.query("SELECT * FROM sales ORDER BY campaign_key") == [("A", 1, 1.5),
                                                                     ("B", 2, None)]


def test_sqlite_copy_is_all_or_nothing(tmp_path, s3) -> None:
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=s3)
    wh.recreate_tables({"sales": COLUMNS})
    s3.put_object(Bucket="data", Key="bad.csv", Body=b"campaign_key,units,revenue\nA,1,2\nB,2\n")
    with pytest.raises(WarehouseError, match="line 3: 2 fields, expected 3"):
        wh.copy_from_s3("sales", COLUMNS, "data", "bad.csv")
    assert wh.query("SELECT COUNT(*) FROM sales") == [(0,)]
    with pytest.raises(WarehouseError, match="cannot read s3://data/none.csv"):
        wh.copy_from_s3("sales", COLUMNS, "data", "none.csv")


def test_sqlite_parallel_loads_all_land(tmp_path, s3) -> None:
    """Map branches load at once from separate processes; here, from threads with their own
    connections: every load must wait for the write lock, none may fail or be lost."""
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=s3)
    wh.recreate_tables({"sales": COLUMNS})
    body = "campaign_key,units,revenue\n" + "".join(f"K,{i},{i}.5\n" for i in range(2000))
    s3.put_object(Bucket="data", Key="k.csv", Body=body.encode())
    errors: list[Exception] = []

    def load() -> None:
        try:
            SqliteWarehouse(wh.path, s3=s3).copy_from_s3("sales", COLUMNS, "data", "k.csv")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert wh.query("SELECT COUNT(*), SUM(units) FROM sales") == [(12000, 6 * sum(range(2000)))]


def _redshift(client, **kw):
    args = {"database": "dev", "iam_role_arn": "arn:aws:iam::123456789012:role/copy",
            "workgroup": "etl-wg"}
    args.update(kw)
    return RedshiftWarehouse(client, **args)


def test_redshift_requests_at_the_data_api_edge() -> None:
    client = boto3.client("redshift-data", region_name="us-east-1")
    wh = _redshift(client, workgroup=None, cluster="c1", secret_arn="arn:secret")
    with Stubber(client) as stub:
        stub.add_response("batch_execute_statement", {"Id": "b-1"}, {
            "Sqls": ['DROP TABLE IF EXISTS "sales"',
                     'CREATE TABLE "sales" ("campaign_key" VARCHAR(65535), '
                     '"units" BIGINT, "revenue" DOUBLE PRECISION)'],
            "ClusterIdentifier": "c1", "Database": "dev", "SecretArn": "arn:secret"})
        stub.add_response("execute_statement", {"Id": "c-1"}, {
            "Sql": 'COPY "sales" ("campaign_key", "units", "revenue") FROM '
                   "'s3://data/runs/r1/A.csv' IAM_ROLE 'arn:aws:iam::123456789012:role/copy' "
                   "FORMAT AS CSV IGNOREHEADER 1 EMPTYASNULL",
            "ClusterIdentifier": "c1", "Database": "dev", "SecretArn": "arn:secret"})
        stub.add_response("describe_statement", {"Id": "c-1", "Status": "FAILED",
                                                 "Error": "Load into table failed",
                                                 "ResultRows": -1}, {"Id": "c-1"})
        assert wh.recreate_tables({"sales": COLUMNS}) == Statement("b-1", "SUBMITTED")
        assert wh.copy_from_s3("sales", COLUMNS, "data", "runs/r1/A.csv") == Statement(
            "c-1", "SUBMITTED")
        described = wh.describe("c-1")
        stub.assert_no_pending_responses()
    assert described.as_dict() == {"Id": "c-1", "Status": "FAILED",
                                   "Error": "Load into table failed"}


def test_redshift_parquet_copy_on_a_workgroup() -> None:
    client = boto3.client("redshift-data", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("execute_statement", {"Id": "p-1"}, {
            "Sql": 'COPY "dq"."accepted" ("campaign_key") FROM \'s3://b/accepted/x.parquet\' '
                   "IAM_ROLE 'arn:aws:iam::123456789012:role/copy' FORMAT AS PARQUET",
            "WorkgroupName": "etl-wg", "Database": "dev"})
        _redshift(client).copy_from_s3("dq.accepted", COLUMNS[:1], "b", "accepted/x.parquet",
                                       "parquet")
        stub.assert_no_pending_responses()


def test_redshift_against_moto_redshift_data() -> None:
    with mock_aws():
        client = boto3.client("redshift-data", region_name="us-east-1")
        wh = _redshift(client, workgroup=None, cluster="c1", db_user="etl")
        statement = wh.copy_from_s3("sales", COLUMNS, "data", "k.csv")
        described = wh.describe(statement.id)
    assert described.id == statement.id
    assert described.status == "STARTED"  # moto never finishes one: the state machine polls


@pytest.mark.parametrize("kw, message", [
    ({"workgroup": None}, "exactly one"),
    ({"cluster": "c"}, "exactly one"),
    ({"workgroup": None, "cluster": "c"}, "secret ARN or a database user"),
    ({"iam_role_arn": ""}, "IAM role"),
])
def test_redshift_configuration_errors(kw, message) -> None:
    with pytest.raises(WarehouseError, match=message):
        _redshift(object(), **kw)


def test_from_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path))
    wh = from_environment({"WAREHOUSE_SQLITE_PATH": "x.sqlite"}, s3=object())
    assert isinstance(wh, SqliteWarehouse) and wh.path == str(tmp_path / "x.sqlite")
    assert sqlite_path("/abs/y.sqlite") == "/abs/y.sqlite"
    wh = from_environment({"WAREHOUSE_ENGINE": "redshift", "REDSHIFT_WORKGROUP": "wg",
                           "REDSHIFT_COPY_ROLE_ARN": "arn:role"}, redshift_data=object())
    assert isinstance(wh, RedshiftWarehouse)
    with pytest.raises(WarehouseError, match="not sqlite or redshift"):
        from_environment({"WAREHOUSE_ENGINE": "duckdb"})


def test_sqlite_replace_table_swaps_or_keeps_the_old_rows(tmp_path, s3) -> None:
    wh = SqliteWarehouse(tmp_path / "wh.sqlite", s3=s3)
    s3.put_object(Bucket="data", Key="a.csv", Body=b"campaign_key,units,revenue\nA,1,1\nA,2,2\n")
    assert wh.replace_table("snap", COLUMNS, "data", "a.csv").rows == 2
    s3.put_object(Bucket="data", Key="b.csv", Body=b"campaign_key,units,revenue\nB,3,3\n")
    assert wh.replace_table("snap", COLUMNS, "data", "b.csv").rows == 1
    assert wh.query("SELECT campaign_key FROM snap") == [("B",)]
    s3.put_object(Bucket="data", Key="bad.csv", Body=b"campaign_key,units,revenue\nC,1\n")
    with pytest.raises(WarehouseError):
        wh.replace_table("snap", COLUMNS, "data", "bad.csv")
    assert wh.query("SELECT campaign_key FROM snap") == [("B",)]  # one transaction: unchanged


def test_redshift_replace_table_is_one_batch() -> None:
    client = boto3.client("redshift-data", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response("batch_execute_statement", {"Id": "r-1"}, {
            "Sqls": ['DROP TABLE IF EXISTS "snap"',
                     'CREATE TABLE "snap" ("campaign_key" VARCHAR(65535))',
                     'COPY "snap" ("campaign_key") FROM \'s3://b/k.parquet\' '
                     "IAM_ROLE 'arn:aws:iam::123456789012:role/copy' FORMAT AS PARQUET"],
            "WorkgroupName": "etl-wg", "Database": "dev"})
        statement = _redshift(client).replace_table("snap", COLUMNS[:1], "b", "k.parquet",
                                                    "parquet")
        stub.assert_no_pending_responses()
    assert statement == Statement("r-1", "SUBMITTED")
