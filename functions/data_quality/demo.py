"""The data_quality scenario for `localcloud demo`, and the sample dataset it (and the tests and
the benchmark) use.

The sample is the seed's job postings: 14 columns, generated here with defects planted at
known rows, so the exact number of rows each rule must reject is known without running the
rules. The four seed rules check organization (not null), job_type (regex list, any),
uniq_id (no whitespace) and location (length 3-50; an empty location is missing, which GE
lets through).

Scenario: write the four rules, upload raw/job_reqs/postings.csv, wait for the load execution,
check the report's counts against the generator's, the Parquet outputs and the warehouse
table; then upload a malformed CSV and check it was moved to quarantine/ with its reason.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

DATASET = "job_reqs"
COLUMNS = ["country", "country_code", "date_added", "has_expired", "job_board",
           "job_description", "job_title", "job_type", "location", "organization", "page_url",
           "salary", "sector", "uniq_id"]
JOB_TYPES = ["Full Time", "Part Time", "Contract", "Full Time Employee", "Part Time/Temporary",
             "Contract Temp"]
BAD_JOB_TYPES = ["Internship", "Temporary", "Per Diem", "Seasonal"]
CITIES = ["Dallas, TX", "Boston, MA", "Seattle, WA", "Denver, CO", "Austin, TX",
          "San Francisco, CA", "Chicago, IL", "Portland, OR"]
SECTORS = ["IT", "Healthcare", "Sales", "Finance", "Education", "Manufacturing"]

MSG = {
    "organization": "REJECT:null_values_found_in_organization",
    "job_type": "REJECT:invalid_job_type",
    "uniq_id": "REJECT:whitespace_in_uniq_id",
    "location": "REJECT:invalid_location_length",
}


def seed_rules(dataset: str = DATASET) -> list[dict[str, Any]]:
    """The seed's four rules, one rules-table item per column, GE names and kwargs."""
    return [
        {"id": f"{dataset}-organization", "dataset_name": dataset, "column_name": "organization",
         "rules": [{"name": "expect_column_values_to_not_be_null",
                    "kwargs": {"result_format": "SUMMARY"}, "reject_msg": MSG["organization"]}]},
        {"id": f"{dataset}-job_type", "dataset_name": dataset, "column_name": "job_type",
         "rules": [{"name": "expect_column_values_to_match_regex_list",
                    "kwargs": {"regex_list": [".*Full.*Time", ".*Part.*Time", ".*Contract.*"],
                               "match_on": "any"},
                    "reject_msg": MSG["job_type"]}]},
        {"id": f"{dataset}-uniq_id", "dataset_name": dataset, "column_name": "uniq_id",
         "rules": [{"name": "expect_column_values_to_not_match_regex",
                    "kwargs": {"regex": "\\s+"}, "reject_msg": MSG["uniq_id"]}]},
        {"id": f"{dataset}-location", "dataset_name": dataset, "column_name": "location",
         "rules": [{"name": "expect_column_value_lengths_to_be_between",
                    "kwargs": {"min_value": 3, "max_value": 50}, "reject_msg": MSG["location"]}]},
    ]


class Expected:
    """What the rules must find, known from the planted defects.

    (A plain class: scenario modules are loaded from their file, which dataclasses dislike.)
    """

    def __init__(self) -> None:
        self.rows = 0
        self.per_rule: dict[str, int] = {c: 0 for c in MSG}
        self.rejected = 0

    @property
    def accepted(self) -> int:
        return self.rows - self.rejected


def generate(rows: int, seed: int = 11, expected: Expected | None = None
             ) -> Iterator[dict[str, str]]:
    """Job postings, one dict per row, with planted defects counted into `expected`.

    Rates: organization missing 5%, job_type outside the list 7%, whitespace in uniq_id 3%,
    location too short or too long 4% (and 2% missing, which is not a defect). Descriptions
    hold commas, quotes and line breaks, so the CSV needs real quoting.
    """
    rng = random.Random(seed)
    exp = expected if expected is not None else Expected()
    for i in range(rows):
        defects = []
        company = rng.choice(["Acme", "Globex", "Initech", "Umbrella", "Hooli"])
        org = f"{company} {rng.randint(1, 99)}"
        if rng.random() < 0.05:
            org, defects = "", [*defects, "organization"]
        job_type = rng.choice(JOB_TYPES)
        if rng.random() < 0.07:
            job_type, defects = rng.choice(BAD_JOB_TYPES), [*defects, "job_type"]
        uniq_id = f"{rng.getrandbits(128):032x}"
        if rng.random() < 0.03:
            cut = rng.randint(1, 31)
            uniq_id, defects = f"{uniq_id[:cut]} {uniq_id[cut:]}", [*defects, "uniq_id"]
        location = rng.choice(CITIES)
        roll = rng.random()
        if roll < 0.03:
            location, defects = rng.choice(["TX", "NY", "X"]), [*defects, "location"]
        elif roll < 0.04:
            location, defects = "Somewhere " * 6, [*defects, "location"]
        elif roll < 0.06:
            location = ""  # missing: GE's length expectation lets it through
        exp.rows += 1
        for column in defects:
            exp.per_rule[column] += 1
        exp.rejected += bool(defects)
        yield {
            "country": "United States of America",
            "country_code": rng.choice(["US", "US", "US", "NA"]),  # "NA" is text, not null
            "date_added": f"2016-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            "has_expired": rng.choice(["No", "No", "Yes"]),
            "job_board": "jobs.example.com",
            "job_description": (f'Role #{i}: "great team", flexible hours,\n'
                                f"remote {rng.randint(0, 5)} days"),
            "job_title": rng.choice(["Data Engineer", "Nurse", "Sales Associate", "Teacher"]),
            "job_type": job_type,
            "location": location,
            "organization": org,
            "page_url": f"http://jobs.example.com/{i}",
            "salary": rng.choice(["", f"{rng.randint(30, 150)},000/year"]),
            "sector": rng.choice(SECTORS),
            "uniq_id": uniq_id,
        }


def write_csv(out: IO[str], rows: Iterator[dict[str, str]]) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def sample_csv(rows: int, seed: int = 11) -> tuple[bytes, Expected]:
    expected = Expected()
    out = io.StringIO()
    write_csv(out, generate(rows, seed, expected))
    return out.getvalue().encode(), expected


# The right header, a good line, then a line with two fields too many (an unquoted comma
# splitting a value is the usual cause).
MALFORMED_CSV = (",".join(COLUMNS) + "\n" + ",".join(["x"] * 14) + "\n"
                 + ",".join(["x"] * 16) + "\n").encode()
MALFORMED_REASON = "Expected 14 fields in line 3, saw 16"


def to_dynamodb(value: dict[str, Any]) -> dict[str, Any]:
    from decimal import Decimal

    from boto3.dynamodb.types import TypeSerializer

    plain = json.loads(json.dumps(value), parse_float=Decimal)
    return {k: TypeSerializer().serialize(v) for k, v in plain.items()}


def put_rules(ddb: Any, table: str, items: list[dict[str, Any]]) -> None:
    for item in items:
        ddb.put_item(TableName=table, Item=to_dynamodb(item))


def read_json(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def check_report(report: dict[str, Any], expected: Expected) -> None:
    """The report's counts equal the generator's, rule by rule."""
    if report.get("status") != "JUDGED":
        raise AssertionError(f"report status {report.get('status')}: {report.get('error')}")
    got = {r["column"]: r["unexpected_count"] for r in report["rules"]}
    if got != expected.per_rule:
        raise AssertionError(f"rejections per rule {got}, expected {expected.per_rule}")
    counts = (report["rows"], report["accepted_rows"], report["rejected_rows"])
    want = (expected.rows, expected.accepted, expected.rejected)
    if counts != want:
        raise AssertionError(f"rows/accepted/rejected {counts}, expected {want}")


def parquet_rows(s3: Any, uri: str) -> int:
    import pyarrow.parquet as pq

    bucket, key = uri.removeprefix("s3://").split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows


def wait_execution(sfn: Any, arn: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {arn} still RUNNING after {timeout:g} s")
        time.sleep(0.25)
    return described


def run(ctx: Any, *, rows: int = 5000) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    out = ctx.outputs
    for name in ("DataBucketName", "RulesTableName", "LoadStateMachineArn"):
        if not out.get(name):
            raise AssertionError(f"stack output {name} is missing")
    s3, ddb, sfn = ctx.client("s3"), ctx.client("dynamodb"), ctx.client("stepfunctions")
    bucket = out["DataBucketName"]
    put_rules(ddb, out["RulesTableName"], seed_rules())
    body, expected = sample_csv(rows)
    ctx.step(f"uploading raw/{DATASET}/postings.csv: {rows} rows, planted defects "
             f"{expected.per_rule} ({expected.rejected} rows to reject)")
    s3.put_object(Bucket=bucket, Key=f"raw/{DATASET}/postings.csv", Body=body)
    report = ctx.wait_for("the gate's report", lambda: read_json(
        s3, bucket, f"reports/{DATASET}/postings.json"), timeout=120)
    check_report(report, expected)
    ctx.step(f"report: {report['accepted_rows']} accepted, {report['rejected_rows']} rejected, "
             f"per rule {dict((r['column'], r['unexpected_count']) for r in report['rules'])}")
    for kind, want in (("accepted", expected.accepted), ("rejected", expected.rejected)):
        got = parquet_rows(s3, report["outputs"][kind])
        if got != want:
            raise AssertionError(f"{kind} Parquet holds {got} rows, expected {want}")
    described = wait_execution(sfn, report["execution"])
    if described["status"] != "SUCCEEDED":
        raise AssertionError(f"load execution ended {described['status']}: "
                             f"{described.get('error')} {described.get('cause')}")
    state_dir = getattr(getattr(ctx, "cloud", None), "state_dir", None)
    if state_dir is not None:
        conn = sqlite3.connect(Path(state_dir) / out.get("WarehouseSqliteFile",
                                                          "data_quality.sqlite"))
        try:
            loaded = conn.execute(f"SELECT COUNT(*) FROM {DATASET}_accepted").fetchone()[0]
        finally:
            conn.close()
        if loaded != expected.accepted:
            raise AssertionError(f"warehouse holds {loaded} accepted rows, expected "
                                 f"{expected.accepted}")
        ctx.step(f"warehouse table {DATASET}_accepted: {loaded} rows")
    s3.put_object(Bucket=bucket, Key=f"raw/{DATASET}/broken.csv", Body=MALFORMED_CSV)
    reason = ctx.wait_for("the quarantine", lambda: read_json(
        s3, bucket, f"quarantine/{DATASET}/broken.csv.reason.json"), timeout=60)
    if MALFORMED_REASON not in reason["reason"]:
        raise AssertionError(f"unexpected quarantine reason {reason['reason']!r}")
    left = s3.list_objects_v2(Bucket=bucket, Prefix=f"raw/{DATASET}/broken.csv").get("KeyCount")
    if left:
        raise AssertionError("the malformed file is still under raw/")
    ctx.step(f"malformed CSV quarantined: {reason['reason']}")
