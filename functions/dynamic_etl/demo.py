"""The dynamic_etl scenario for `localcloud demo`, and the sample data it (and the tests and the
benchmark) use.

Scenario: put a sales file holding several campaigns under sources/, four campaign keys in the
keys table (two active today with their own rules, one active but pointing at a missing file,
one ended), fire the twice-daily schedule, wait for the run, and check: the two good keys were
loaded into the warehouse with their rules applied (row counts computed here from the
generated rows, independently of the app), the broken key failed alone and is listed in the
summary, the ended campaign was not run, and the summary was stored.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

SOURCE_KEY = "sources/sales.csv"
REGIONS = ("EU", "US", "APAC", "LATAM")
CHANNELS = ("web", "store", "partner")
BASE_COLUMNS = ("id", "campaign", "sale_date", "region", "sku", "units", "unit_price",
                "channel")


def source_columns(width: int = len(BASE_COLUMNS)) -> list[str]:
    """The source file's header: the base columns, then filler attributes up to `width`."""
    extra = max(0, width - len(BASE_COLUMNS))
    return [*BASE_COLUMNS, *(f"attr_{i:03d}" for i in range(1, extra + 1))]


def generate_rows(campaigns: dict[str, tuple[str, str]], rows_per_campaign: int,
                  width: int = len(BASE_COLUMNS), seed: int = 7) -> list[dict[str, str]]:
    """Deterministic sales rows: `rows_per_campaign` per campaign, dated inside its window.

    About one row in 50 has a units value that is not a number ("n/a") and one in 40 a blank
    region, the kind of dirt the rules must survive.
    """
    rng = random.Random(seed)
    columns = source_columns(width)
    rows = []
    next_id = 1
    for campaign, (start, end) in campaigns.items():
        first = date.fromisoformat(start)
        span = (date.fromisoformat(end) - first).days
        for _ in range(rows_per_campaign):
            units = str(rng.randint(0, 20)) if rng.random() > 0.02 else "n/a"
            row = {
                "id": str(next_id),
                "campaign": campaign,
                "sale_date": (first + timedelta(days=rng.randint(0, span))).isoformat(),
                "region": rng.choice(REGIONS) if rng.random() > 0.025 else "",
                "sku": f"SKU-{rng.randint(1, 500):04d}",
                "units": units,
                "unit_price": f"{rng.uniform(1, 200):.2f}",
                "channel": rng.choice(CHANNELS),
            }
            for name in columns[len(BASE_COLUMNS):]:
                row[name] = f"v{rng.randint(0, 9999)}"
            rows.append(row)
            next_id += 1
    return rows


def rows_to_csv(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def spring_rules() -> dict[str, Any]:
    """EU and US sales only, revenue derived, columns renamed and typed."""
    return {
        "filters": [{"column": "region", "op": "in", "value": ["EU", "US"]}],
        "derive": [
            {"name": "revenue", "op": "multiply", "args": ["units", "unit_price"]},
            {"name": "channel_code", "op": "upper", "args": ["channel"]},
        ],
        "columns": [
            {"name": "sale_id", "source": "id", "type": "integer"},
            {"name": "sold_on", "source": "sale_date", "type": "date"},
            {"name": "region"},
            {"name": "product", "source": "sku"},
            {"name": "units", "type": "integer"},
            {"name": "revenue", "type": "real"},
            {"name": "channel_code"},
        ],
    }


def winter_rules() -> dict[str, Any]:
    """Web sales with at least 5 units; a label built from two columns."""
    return {
        "filters": [{"column": "channel", "op": "eq", "value": "web"},
                    {"column": "units", "op": "ge", "value": 5}],
        "derive": [{"name": "label", "op": "concat", "args": ["sku", "region"], "sep": "/"}],
        "columns": [
            {"name": "sale_id", "source": "id", "type": "integer"},
            {"name": "label"},
            {"name": "units", "type": "integer"},
        ],
    }


def expected_spring(rows: list[dict[str, str]], campaign: str) -> int:
    """Rows the spring rules keep, computed without the app's code."""
    return sum(1 for r in rows if r["campaign"] == campaign and r["region"] in ("EU", "US"))


def expected_winter(rows: list[dict[str, str]], campaign: str) -> int:
    return sum(1 for r in rows if r["campaign"] == campaign and r["channel"] == "web"
               and r["units"].isdigit() and int(r["units"]) >= 5)


def sample_keys(today: str) -> list[dict[str, Any]]:
    """Four keys around `today`: SPRING and WINTER active and valid, BROKEN active with a
    missing source file, OLD ended last year."""
    day = date.fromisoformat(today)
    window = ((day - timedelta(days=30)).isoformat(), (day + timedelta(days=30)).isoformat())
    return [
        {"campaign_key": "SPRING", "name": "Spring campaign", "start_date": window[0],
         "end_date": window[1], "target_table": "campaign_sales",
         "source": {"type": "s3", "key": SOURCE_KEY, "campaign_column": "campaign",
                    "date_column": "sale_date"},
         "rules": spring_rules()},
        {"campaign_key": "WINTER", "name": "Winter campaign", "start_date": window[0],
         "end_date": window[1], "target_table": "web_sales", "output_format": "parquet",
         "source": {"type": "s3", "key": SOURCE_KEY, "campaign_column": "campaign"},
         "rules": winter_rules()},
        {"campaign_key": "BROKEN", "name": "Source file missing", "start_date": window[0],
         "end_date": window[1], "target_table": "broken_sales",
         "source": {"type": "s3", "key": "sources/missing.csv"},
         "rules": {"columns": [{"name": "id"}]}},
        {"campaign_key": "OLD", "name": "Ended campaign",
         "start_date": (day - timedelta(days=400)).isoformat(),
         "end_date": (day - timedelta(days=300)).isoformat(), "target_table": "old_sales",
         "source": {"type": "s3", "key": SOURCE_KEY, "campaign_column": "campaign"},
         "rules": {"columns": [{"name": "id"}]}},
    ]


def seed(s3: Any, ddb: Any, bucket: str, keys_table: str, keys: list[dict[str, Any]],
         rows: list[dict[str, str]], columns: list[str]) -> None:
    """Upload the source file and write the keys (replacing any item of the keys table)."""
    s3.put_object(Bucket=bucket, Key=SOURCE_KEY, Body=rows_to_csv(rows, columns))
    old = ddb.scan(TableName=keys_table, ProjectionExpression="campaign_key").get("Items", [])
    for item in old:
        ddb.delete_item(TableName=keys_table, Key={"campaign_key": item["campaign_key"]})
    for key in keys:
        ddb.put_item(TableName=keys_table, Item=to_dynamodb(key))


def to_dynamodb(value: Any) -> Any:
    """A JSON value as a DynamoDB attribute value (for the low-level client)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(_decimals(v)) for k, v in value.items()}


def _decimals(value: Any) -> Any:
    from decimal import Decimal

    return json.loads(json.dumps(value), parse_float=Decimal)


def wait_for_execution(sfn: Any, arn: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {arn} still RUNNING after {timeout:g} s")
        time.sleep(0.25)


def warehouse_counts(path: Path, tables: list[str]) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}
    finally:
        conn.close()


def check_summary(summary: dict[str, Any], expected: dict[str, int]) -> None:
    """The summary lists exactly the expected rows per key and BROKEN as the one failure."""
    if summary.get("rows_per_key") != expected:
        raise AssertionError(f"rows per key {summary.get('rows_per_key')}, expected {expected}")
    failures = [f.get("campaign_key") for f in summary.get("failures", [])]
    if failures != ["BROKEN"]:
        raise AssertionError(f"failures {failures}, expected ['BROKEN']")
    if summary.get("status") != "PARTIAL":
        raise AssertionError(f"summary status {summary.get('status')}, expected PARTIAL")


def run(ctx: Any, *, rows_per_campaign: int = 400,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    out = ctx.outputs
    for name in ("EtlStateMachineArn", "KeysTableName", "RunsTableName", "DataBucketName"):
        if not out.get(name):
            raise AssertionError(f"stack output {name} is missing")
    today = clock().strftime("%Y-%m-%d")
    keys = sample_keys(today)
    campaigns = {k["campaign_key"]: (k["start_date"], k["end_date"]) for k in keys}
    rows = generate_rows(campaigns, rows_per_campaign)
    s3, ddb, sfn = ctx.client("s3"), ctx.client("dynamodb"), ctx.client("stepfunctions")
    seed(s3, ddb, out["DataBucketName"], out["KeysTableName"], keys, rows, source_columns())
    ctx.step(f"seeded {len(rows)} source rows and {len(keys)} campaign keys for {today}")
    machine = out["EtlStateMachineArn"]
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)[
        "executions"]}
    fired = ctx.fire("EtlStateMachineTwiceDaily")
    ctx.step(f"fired the schedule at {fired['time']}")
    arn = ctx.wait_for("the scheduled execution", lambda: next(
        (e for e in sfn.list_executions(stateMachineArn=machine)["executions"]
         if e["executionArn"] not in before), None))
    described = wait_for_execution(sfn, arn["executionArn"])
    # Partial success is a FAILED execution (KeysFailed) after the summary went out.
    if described["status"] != "FAILED" or described.get("error") != "KeysFailed":
        raise AssertionError(f"execution ended {described['status']} "
                             f"({described.get('error')}), expected FAILED with KeysFailed")
    run_id = arn["executionArn"].rsplit(":", 1)[-1]
    item = ddb.get_item(TableName=out["RunsTableName"], Key={"run_id": {"S": run_id}})
    if "Item" not in item:
        raise AssertionError(f"no summary for run {run_id} in the runs table")
    from boto3.dynamodb.types import TypeDeserializer

    summary = json.loads(json.dumps(
        {k: TypeDeserializer().deserialize(v) for k, v in item["Item"].items()},
        default=lambda d: int(d) if d == int(d) else float(d)))
    expected = {"SPRING": expected_spring(rows, "SPRING"),
                "WINTER": expected_winter(rows, "WINTER")}
    check_summary(summary, expected)
    ctx.step(f"summary: {summary['message']}")
    state_dir = getattr(getattr(ctx, "cloud", None), "state_dir", None)
    if state_dir is not None:
        path = Path(state_dir) / out.get("WarehouseSqliteFile", "dynamic_etl.sqlite")
        counts = warehouse_counts(path, ["campaign_sales", "web_sales"])
        if counts != {"campaign_sales": expected["SPRING"], "web_sales": expected["WINTER"]}:
            raise AssertionError(f"warehouse holds {counts}, expected {expected}")
        ctx.step(f"warehouse tables: {counts}")
