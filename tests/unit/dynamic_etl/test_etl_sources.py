from __future__ import annotations

import io
import json

import boto3
import pandas as pd
import pytest
from botocore.stub import Stubber
from etl_sources import Campaign, RdsDataSource, S3FileSource, SourceError, source_for
from moto import mock_aws

SECRET = "arn:aws:secretsmanager:us-east-1:1:secret:src"
CAMPAIGN = Campaign("MCS2017", "2017-03-01", "2017-05-31")
CSV = (b"id,campaign,sold,amount\n1,MCS2017,2017-03-02,5\n2,OTHER,2017-03-02,6\n"
       b"3,MCS2017,2017-06-01,7\n4,MCS2017,2017-05-31T10:00:00,\n")


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="data")
        yield client


def test_s3_csv_keeps_the_campaigns_rows_in_its_dates(s3, monkeypatch) -> None:
    import etl_sources

    monkeypatch.setattr(etl_sources, "CSV_CHUNK_ROWS", 2)  # several chunks, one result
    s3.put_object(Bucket="data", Key="sources/s.csv", Body=CSV)
    source = source_for({"type": "s3", "key": "sources/s.csv", "campaign_column": "campaign",
                         "date_column": "sold"}, s3=s3, default_bucket="data")
    frame = source.extract(CAMPAIGN)
    assert frame.to_dict("records") == [
        {"id": "1", "campaign": "MCS2017", "sold": "2017-03-02", "amount": "5"},
        {"id": "4", "campaign": "MCS2017", "sold": "2017-05-31T10:00:00", "amount": None},
    ]


def test_s3_parquet_source_reads_text(s3) -> None:
    buf = io.BytesIO()
    pd.DataFrame({"id": [1, 2], "campaign": ["MCS2017", "X"]}).to_parquet(buf)
    s3.put_object(Bucket="data", Key="p.parquet", Body=buf.getvalue())
    frame = S3FileSource(s3, "data", {"key": "p.parquet", "campaign_column": "campaign"}
                         ).extract(CAMPAIGN)
    assert frame.to_dict("records") == [{"id": "1", "campaign": "MCS2017"}]


def test_s3_source_errors(s3) -> None:
    with pytest.raises(SourceError, match="cannot read s3://data/none.csv"):
        S3FileSource(s3, "data", {"key": "none.csv"}).extract(CAMPAIGN)
    s3.put_object(Bucket="data", Key="s.csv", Body=CSV)
    with pytest.raises(SourceError, match="no campaign column 'nope'"):
        S3FileSource(s3, "data", {"key": "s.csv", "campaign_column": "nope"}).extract(CAMPAIGN)
    with pytest.raises(SourceError, match="needs a key"):
        S3FileSource(s3, "data", {})
    with pytest.raises(SourceError, match="not s3 or mysql"):
        source_for({"type": "ftp"}, s3=s3, default_bucket="data")


def test_rds_data_source_pages_with_bound_parameters() -> None:
    client = boto3.client("rds-data", region_name="us-east-1")
    source = RdsDataSource(client, resource_arn="arn:aws:rds:us-east-1:1:cluster:src",
                           secret_arn=SECRET, database="sales",
                           config={"table": "orders", "order_by": "order_id",
                                   "campaign_column": "campaign", "date_column": "sold_at",
                                   "columns": ["order_id", "amount"]}, page_rows=2)
    sql = ("SELECT `order_id`, `amount` FROM `orders` WHERE `campaign` = :key AND `sold_at` "
           "BETWEEN :start AND :end ORDER BY `order_id` LIMIT :limit OFFSET :offset")
    assert source.sql() == sql
    pages = [[{"order_id": 1, "amount": 2.5}, {"order_id": 2, "amount": None}],
             [{"order_id": 3, "amount": 4}]]
    with Stubber(client) as stub:
        for offset, page in zip((0, 2), pages, strict=True):
            stub.add_response("execute_statement", {"formattedRecords": json.dumps(page)}, {
                "resourceArn": "arn:aws:rds:us-east-1:1:cluster:src", "secretArn": SECRET,
                "database": "sales", "sql": sql, "formatRecordsAs": "JSON",
                "parameters": [
                    {"name": "key", "value": {"stringValue": "MCS2017"}},
                    {"name": "start", "value": {"stringValue": "2017-03-01"}},
                    {"name": "end", "value": {"stringValue": "2017-05-31 23:59:59"}},
                    {"name": "limit", "value": {"longValue": 2}},
                    {"name": "offset", "value": {"longValue": offset}}]})
        frame = source.extract(CAMPAIGN)
        stub.assert_no_pending_responses()
    assert frame.to_dict("records") == [{"order_id": "1", "amount": "2.5"},
                                        {"order_id": "2", "amount": None},
                                        {"order_id": "3", "amount": "4"}]


def test_rds_data_source_refuses_odd_identifiers() -> None:
    with pytest.raises(SourceError, match="not a plain identifier"):
        RdsDataSource(object(), resource_arn="a", secret_arn="s", database="d",
                      config={"table": "orders; DROP TABLE x"})
    with pytest.raises(SourceError, match="RDS_RESOURCE_ARN"):
        source_for({"type": "mysql", "table": "t"}, s3=None, default_bucket="b",
                   rds_data=object(), env={})
