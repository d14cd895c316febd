"""Where a campaign's rows come from: files in S3 (used locally) or a MySQL database on RDS
through the RDS Data API (the seed's source). Both return every value as text (None for NULL),
so the transformation rules see the same thing whichever source is configured.

A key's `source` object picks the adapter:
- `{"type": "s3", "key": "sources/sales.csv", "bucket"?: ..., "format"?: "csv"|"parquet"}`
- `{"type": "mysql", "table": "sales", "order_by": "id", "columns"?: [...]}` (the cluster and
  secret come from the function's environment)
and both take `campaign_column` (rows whose value equals the campaign key) and `date_column`
(rows dated within the campaign's start and end dates), each optional.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

_MYSQL_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
CSV_CHUNK_ROWS = 50_000


class SourceError(ValueError):
    """The source is misconfigured or cannot be read."""


@dataclass(frozen=True)
class Campaign:
    key: str
    start_date: str
    end_date: str


class Source(Protocol):
    def extract(self, campaign: Campaign) -> pd.DataFrame: ...


def _select(df: pd.DataFrame, config: Mapping[str, Any], campaign: Campaign) -> pd.DataFrame:
    column = config.get("campaign_column")
    if column:
        if column not in df.columns:
            raise SourceError(f"source has no campaign column {column!r}")
        df = df[df[column] == campaign.key]
    column = config.get("date_column")
    if column:
        if column not in df.columns:
            raise SourceError(f"source has no date column {column!r}")
        dates = df[column].fillna("").str.slice(0, 10)  # ISO dates compare as text
        df = df[(dates >= campaign.start_date) & (dates <= campaign.end_date)]
    return df


class S3FileSource:
    """A CSV (header row) or Parquet object; CSV is read in chunks, keeping only this
    campaign's rows, so a file holding many campaigns never sits whole in memory."""

    def __init__(self, s3: Any, default_bucket: str, config: Mapping[str, Any]) -> None:
        self.s3 = s3
        self.bucket = config.get("bucket") or default_bucket
        self.key = config.get("key")
        if not isinstance(self.key, str) or not self.key:
            raise SourceError("an s3 source needs a key")
        self.format = config.get("format") or ("parquet" if self.key.endswith(".parquet")
                                               else "csv")
        if self.format not in ("csv", "parquet"):
            raise SourceError(f"s3 source format {self.format!r} is not csv or parquet")
        self.config = config

    def extract(self, campaign: Campaign) -> pd.DataFrame:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"]
        except Exception as err:
            raise SourceError(f"cannot read s3://{self.bucket}/{self.key}: {err}") from err
        if self.format == "parquet":
            df = pd.read_parquet(io.BytesIO(body.read())).astype("string").astype(object)
            return _select(df.where(df.notna(), None), self.config, campaign)
        parts = []
        try:
            reader = pd.read_csv(body, dtype=str, keep_default_na=False,
                                 chunksize=CSV_CHUNK_ROWS)
            for chunk in reader:
                parts.append(_select(chunk.replace("", None), self.config, campaign))
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise SourceError(f"s3://{self.bucket}/{self.key} is not valid CSV: {err}") from err
        if not parts:
            return pd.DataFrame()
        return pd.concat(parts, ignore_index=True)


def _mysql_ident(name: Any, what: str) -> str:
    if not isinstance(name, str) or not _MYSQL_IDENT.match(name):
        raise SourceError(f"mysql source: {what} {name!r} is not a plain identifier")
    return f"`{name}`"


class RdsDataSource:
    """A MySQL table on Aurora through the RDS Data API, read in pages.

    The Data API returns at most 1 MB per call; 20,000 rows of hundreds of columns are far
    more, so rows are paged with LIMIT/OFFSET over a stable ORDER BY.
    """

    def __init__(self, client: Any, *, resource_arn: str, secret_arn: str, database: str,
                 config: Mapping[str, Any], page_rows: int = 1000) -> None:
        if not resource_arn or not secret_arn:
            raise SourceError("a mysql source needs RDS_RESOURCE_ARN and RDS_SECRET_ARN")
        self.client = client
        self.target = {"resourceArn": resource_arn, "secretArn": secret_arn,
                       "database": database}
        self.table = _mysql_ident(config.get("table"), "table")
        self.order_by = _mysql_ident(config.get("order_by", "id"), "order_by")
        columns = config.get("columns")
        self.columns = ", ".join(_mysql_ident(c, "column") for c in columns) if columns else "*"
        self.campaign_column = config.get("campaign_column")
        self.date_column = config.get("date_column")
        self.page_rows = page_rows

    def sql(self) -> str:
        where = []
        if self.campaign_column:
            where.append(f"{_mysql_ident(self.campaign_column, 'campaign_column')} = :key")
        if self.date_column:
            where.append(f"{_mysql_ident(self.date_column, 'date_column')} "
                         "BETWEEN :start AND :end")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return (f"SELECT {self.columns} FROM {self.table}{clause} ORDER BY {self.order_by} "
                "LIMIT :limit OFFSET :offset")

    def extract(self, campaign: Campaign) -> pd.DataFrame:
        sql = self.sql()
        params: list[dict[str, Any]] = []
        if self.campaign_column:
            params.append({"name": "key", "value": {"stringValue": campaign.key}})
        if self.date_column:
            params.append({"name": "start", "value": {"stringValue": campaign.start_date}})
            end = f"{campaign.end_date} 23:59:59"  # the whole last day of a DATETIME column
            params.append({"name": "end", "value": {"stringValue": end}})
        records: list[dict[str, Any]] = []
        offset = 0
        while True:
            page_params = [*params, {"name": "limit", "value": {"longValue": self.page_rows}},
                           {"name": "offset", "value": {"longValue": offset}}]
            resp = self.client.execute_statement(sql=sql, parameters=page_params,
                                                 formatRecordsAs="JSON", **self.target)
            page = json.loads(resp.get("formattedRecords") or "[]")
            records.extend(page)
            if len(page) < self.page_rows:
                break
            offset += self.page_rows
        # Text everywhere, as from a CSV file (None stays NULL), converted before pandas can
        # turn a column with NULLs into floats.
        text = [{k: None if v is None else str(v) for k, v in r.items()} for r in records]
        return pd.DataFrame.from_records(text).astype(object)


def source_for(config: Any, *, s3: Any, default_bucket: str, rds_data: Any = None,
               env: Mapping[str, str] | None = None) -> Source:
    """The adapter a key's `source` object names."""
    if not isinstance(config, Mapping):
        raise SourceError("source must be an object with a type")
    kind = config.get("type")
    if kind == "s3":
        return S3FileSource(s3, default_bucket, config)
    if kind == "mysql":
        env = env or {}
        if rds_data is None:
            from common.aws import client

            rds_data = client("rds-data")
        return RdsDataSource(rds_data, resource_arn=env.get("RDS_RESOURCE_ARN", ""),
                             secret_arn=env.get("RDS_SECRET_ARN", ""),
                             database=env.get("RDS_DATABASE", ""), config=config)
    raise SourceError(f"source type {kind!r} is not s3 or mysql")
