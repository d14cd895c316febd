"""Warehouse adapters: Amazon Redshift through the Data API on AWS, SQLite embedded locally.

Both take the same three calls, shaped after the Redshift Data API so a state machine can drive
either one the same way:

- `recreate_tables({table: [Column, ...]})`: drop and create the tables (one transaction);
- `copy_from_s3(table, columns, bucket, key, fmt)`: load one CSV (with a header row) or Parquet
  object, Redshift's COPY;
- `replace_table(table, columns, bucket, key, fmt)`: the three above as one transaction (the
  table is swapped for the object's rows; readers never see it empty);
- `describe(statement_id)`: the statement's status, as DescribeStatement reports it.

Each returns a `Statement`. Redshift answers at once with a SUBMITTED statement and runs it in
the background: the caller (a state machine's Wait + Choice loop) polls `describe`, nothing
sleeps in a function. SQLite runs the statement before returning, so its statements come back
FINISHED and the loop is never entered.

SQLite and not DuckDB as the embedded engine: it is in Python's standard library (nothing to
pin, nothing added to a Lambda package that already carries pandas and pyarrow), and several
processes may write one database file (the parallel branches of a Map state run in separate
workers); DuckDB lets only one process open a database file for writing.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import sqlite3
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

FINISHED = "FINISHED"
FAILED = "FAILED"
ABORTED = "ABORTED"
SUBMITTED = "SUBMITTED"
DONE_STATUSES = frozenset({FINISHED, FAILED, ABORTED})

# Column types a configuration may name, and what each engine calls them.
TYPES: dict[str, tuple[str, str]] = {
    "text": ("TEXT", "VARCHAR(65535)"),
    "integer": ("INTEGER", "BIGINT"),
    "real": ("REAL", "DOUBLE PRECISION"),
    "boolean": ("INTEGER", "BOOLEAN"),
    "date": ("TEXT", "DATE"),
    "timestamp": ("TEXT", "TIMESTAMP"),
}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,126}$")
_INSERT_BATCH = 5000


class WarehouseError(Exception):
    """A statement could not run (bad identifier, unknown type, missing object, SQL error)."""


@dataclass(frozen=True)
class Column:
    """A target column: a plain identifier and one of TYPES."""

    name: str
    type: str = "text"

    def __post_init__(self) -> None:
        quote_ident(self.name)
        if self.type not in TYPES:
            raise WarehouseError(
                f"column {self.name!r}: unknown type {self.type!r} (one of {', '.join(TYPES)})"
            )


@dataclass(frozen=True)
class Statement:
    """A submitted statement, with the fields of Redshift's DescribeStatement we use."""

    id: str
    status: str
    error: str | None = None
    rows: int | None = None

    @property
    def done(self) -> bool:
        return self.status in DONE_STATUSES

    def as_dict(self) -> dict[str, Any]:
        """DescribeStatement's field names, so a state machine reads both engines alike."""
        out: dict[str, Any] = {"Id": self.id, "Status": self.status}
        if self.error is not None:
            out["Error"] = self.error
        if self.rows is not None:
            out["ResultRows"] = self.rows
        return out


def quote_ident(name: str) -> str:
    """`name` ("table" or "schema.table") double-quoted; anything but plain identifiers refused.

    Table and column names come from configuration tables, not code: checking them here keeps
    a typo (or worse) in a rule from becoming SQL.
    """
    parts = name.split(".") if isinstance(name, str) else [name]
    if not 1 <= len(parts) <= 2 or not all(isinstance(p, str) and _IDENT.match(p) for p in parts):
        raise WarehouseError(f"{name!r} is not a valid table or column name")
    return ".".join(f'"{p}"' for p in parts)


class Warehouse(Protocol):
    engine: str

    def recreate_tables(self, tables: Mapping[str, Sequence[Column]]) -> Statement: ...

    def copy_from_s3(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                     fmt: str = "csv") -> Statement: ...

    def replace_table(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                      fmt: str = "csv") -> Statement: ...

    def describe(self, statement_id: str) -> Statement: ...


def _create_sql(table: str, columns: Sequence[Column], engine_index: int) -> str:
    if not columns:
        raise WarehouseError(f"table {table!r} has no columns")
    cols = ", ".join(f"{quote_ident(c.name)} {TYPES[c.type][engine_index]}" for c in columns)
    return f"CREATE TABLE {quote_ident(table)} ({cols})"


class SqliteWarehouse:
    """An embedded warehouse in one SQLite file; statements run synchronously."""

    engine = "sqlite"

    def __init__(self, path: str | os.PathLike[str], s3: Any = None) -> None:
        self.path = os.fspath(path)
        self._s3 = s3

    def connect(self) -> sqlite3.Connection:
        """A connection that waits for other writers instead of failing on a locked file."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # isolation_level=None: transactions are explicit (_transaction); Python's implicit
        # ones would commit DDL (a DROP TABLE) on its own.
        conn = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        # WAL: readers never block the one writer; parallel loads queue on the write lock.
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def recreate_tables(self, tables: Mapping[str, Sequence[Column]]) -> Statement:
        ddl = []
        for table, columns in tables.items():
            ddl.append(f"DROP TABLE IF EXISTS {quote_ident(table)}")
            ddl.append(_create_sql(table, columns, 0))
        conn = self.connect()
        try:
            with _transaction(conn):
                for sql in ddl:
                    conn.execute(sql)
        except sqlite3.Error as err:
            raise WarehouseError(f"recreating tables failed: {err}") from err
        finally:
            conn.close()
        return Statement(str(uuid.uuid4()), FINISHED)

    def copy_from_s3(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                     fmt: str = "csv", _before: Sequence[str] = ()) -> Statement:
        before = list(_before)
        if self._s3 is None:
            from common.aws import client

            self._s3 = client("s3")
        names = [c.name for c in columns]
        placeholders = ", ".join("?" for _ in names)
        sql = (f"INSERT INTO {quote_ident(table)} ({', '.join(quote_ident(n) for n in names)}) "
               f"VALUES ({placeholders})")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as err:  # NoSuchKey, NoSuchBucket, access denied: COPY fails the same
            raise WarehouseError(f"COPY {table}: cannot read s3://{bucket}/{key}: {err}") from err
        if fmt == "csv":
            rows = _csv_rows(body, len(names), f"s3://{bucket}/{key}")
        elif fmt == "parquet":
            rows = _parquet_rows(body.read(), names)
        else:
            raise WarehouseError(f"COPY {table}: unknown format {fmt!r} (csv or parquet)")
        conn = self.connect()
        count = 0
        try:
            with _transaction(conn):  # a COPY loads all rows or none
                for ddl in before:
                    conn.execute(ddl)
                for batch in _batches(rows, _INSERT_BATCH):
                    conn.executemany(sql, batch)
                    count += len(batch)
        except sqlite3.Error as err:
            raise WarehouseError(f"COPY {table} from s3://{bucket}/{key} failed: {err}") from err
        finally:
            conn.close()
        return Statement(str(uuid.uuid4()), FINISHED, rows=count)

    def replace_table(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                      fmt: str = "csv") -> Statement:
        ddl = [f"DROP TABLE IF EXISTS {quote_ident(table)}", _create_sql(table, columns, 0)]
        return self.copy_from_s3(table, columns, bucket, key, fmt, _before=ddl)

    def describe(self, statement_id: str) -> Statement:
        # Every statement finished before its call returned.
        return Statement(statement_id, FINISHED)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read query (tests, demos and local inspection)."""
        conn = self.connect()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE takes the write lock at once: parallel loaders queue here (busy timeout)
    # instead of failing when a read lock cannot be upgraded.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _csv_rows(body: Any, width: int, where: str) -> Iterator[list[Any]]:
    # Streamed line by line: memory stays at one batch whatever the object's size.
    reader = csv.reader(io.TextIOWrapper(body, encoding="utf-8", newline=""))
    next(reader, None)  # IGNOREHEADER 1
    for line_no, row in enumerate(reader, start=2):
        if len(row) != width:
            raise WarehouseError(f"{where} line {line_no}: {len(row)} fields, expected {width}")
        # Redshift's EMPTYASNULL: an empty field is NULL.
        yield [value if value != "" else None for value in row]


def _parquet_rows(data: bytes, names: Sequence[str]) -> Iterator[list[Any]]:
    import pyarrow.parquet as pq  # only the Parquet path needs pyarrow

    parquet = pq.ParquetFile(io.BytesIO(data))
    missing = [n for n in names if n not in parquet.schema_arrow.names]
    if missing:
        raise WarehouseError(f"Parquet object lacks column(s) {', '.join(missing)}")
    for batch in parquet.iter_batches(batch_size=_INSERT_BATCH, columns=list(names)):
        columns = [batch.column(n).to_pylist() for n in names]
        yield from (list(row) for row in zip(*columns, strict=True))


def _batches(rows: Iterable[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    batch: list[list[Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class RedshiftWarehouse:
    """Redshift (provisioned cluster or Serverless workgroup) through the Redshift Data API."""

    engine = "redshift"

    def __init__(self, client: Any, *, database: str, iam_role_arn: str,
                 workgroup: str | None = None, cluster: str | None = None,
                 secret_arn: str | None = None, db_user: str | None = None) -> None:
        if bool(workgroup) == bool(cluster):
            raise WarehouseError("Redshift needs exactly one of a workgroup or a cluster")
        if cluster and not (secret_arn or db_user):
            raise WarehouseError("a Redshift cluster needs a secret ARN or a database user")
        if not iam_role_arn:
            raise WarehouseError("COPY needs an IAM role ARN that Redshift can assume")
        self._client = client
        self._target: dict[str, str] = {"Database": database}
        if workgroup:
            self._target["WorkgroupName"] = workgroup
        if cluster:
            self._target["ClusterIdentifier"] = cluster
        if secret_arn:
            self._target["SecretArn"] = secret_arn
        elif db_user:
            self._target["DbUser"] = db_user
        self.iam_role_arn = iam_role_arn

    def recreate_tables(self, tables: Mapping[str, Sequence[Column]]) -> Statement:
        sqls = []
        for table, columns in tables.items():
            sqls.append(f"DROP TABLE IF EXISTS {quote_ident(table)}")
            sqls.append(_create_sql(table, columns, 1))
        # BatchExecuteStatement runs the statements as one transaction.
        resp = self._client.batch_execute_statement(Sqls=sqls, **self._target)
        return Statement(resp["Id"], SUBMITTED)

    def copy_from_s3(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                     fmt: str = "csv") -> Statement:
        resp = self._client.execute_statement(Sql=self._copy_sql(table, columns, bucket, key, fmt),
                                              **self._target)
        return Statement(resp["Id"], SUBMITTED)

    def replace_table(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                      fmt: str = "csv") -> Statement:
        sqls = [f"DROP TABLE IF EXISTS {quote_ident(table)}", _create_sql(table, columns, 1),
                self._copy_sql(table, columns, bucket, key, fmt)]
        resp = self._client.batch_execute_statement(Sqls=sqls, **self._target)
        return Statement(resp["Id"], SUBMITTED)

    def _copy_sql(self, table: str, columns: Sequence[Column], bucket: str, key: str,
                  fmt: str) -> str:
        if fmt == "csv":
            options = "FORMAT AS CSV IGNOREHEADER 1 EMPTYASNULL"
        elif fmt == "parquet":
            options = "FORMAT AS PARQUET"
        else:
            raise WarehouseError(f"COPY {table}: unknown format {fmt!r} (csv or parquet)")
        if "'" in bucket or "'" in key or "'" in self.iam_role_arn:
            raise WarehouseError("a quote in an S3 location or role ARN")
        cols = ", ".join(quote_ident(c.name) for c in columns)
        return (f"COPY {quote_ident(table)} ({cols}) FROM 's3://{bucket}/{key}' "
                f"IAM_ROLE '{self.iam_role_arn}' {options}")

    def describe(self, statement_id: str) -> Statement:
        resp = self._client.describe_statement(Id=statement_id)
        rows = resp.get("ResultRows")
        return Statement(resp["Id"], resp["Status"], resp.get("Error"),
                         rows if isinstance(rows, int) and rows >= 0 else None)


def sqlite_path(name: str) -> str:
    """Where the embedded database file lives: `name` itself when absolute, else in the local
    cloud's state folder (LOCALCLOUD_STATE_DIR, shared by its workers), else the temp folder."""
    if os.path.isabs(name):
        return name
    base = os.environ.get("LOCALCLOUD_STATE_DIR") or tempfile.gettempdir()
    return os.path.join(base, name)


def from_environment(env: Mapping[str, str] | None = None, *, s3: Any = None,
                     redshift_data: Any = None) -> Warehouse:
    """The warehouse the function's environment names.

    WAREHOUSE_ENGINE: `sqlite` (default; WAREHOUSE_SQLITE_PATH, default `warehouse.sqlite`) or
    `redshift` (REDSHIFT_DATABASE, REDSHIFT_WORKGROUP or REDSHIFT_CLUSTER, REDSHIFT_SECRET_ARN
    or REDSHIFT_DB_USER, REDSHIFT_COPY_ROLE_ARN).
    """
    env = os.environ if env is None else env
    engine = env.get("WAREHOUSE_ENGINE", "sqlite") or "sqlite"
    if engine == "sqlite":
        return SqliteWarehouse(sqlite_path(env.get("WAREHOUSE_SQLITE_PATH") or
                                           "warehouse.sqlite"), s3=s3)
    if engine == "redshift":
        if redshift_data is None:
            from common.aws import client

            redshift_data = client("redshift-data")
        return RedshiftWarehouse(
            redshift_data, database=env.get("REDSHIFT_DATABASE") or "dev",
            iam_role_arn=env.get("REDSHIFT_COPY_ROLE_ARN", ""),
            workgroup=env.get("REDSHIFT_WORKGROUP") or None,
            cluster=env.get("REDSHIFT_CLUSTER") or None,
            secret_arn=env.get("REDSHIFT_SECRET_ARN") or None,
            db_user=env.get("REDSHIFT_DB_USER") or None)
    raise WarehouseError(f"WAREHOUSE_ENGINE {engine!r} is not sqlite or redshift")
