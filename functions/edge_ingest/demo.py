"""The edge_ingest scenario for `localcloud demo`, and the sensor-file generator the tests and
the benchmark share.

A generated sensor CSV carries planted problems whose truth the generator keeps: rows with the
wrong number of fields, non-numbers, readings outside the plausible range, duplicates (same
device and timestamp), and real alerts (temperature above 90 C, a FAULT status). The function
must reject, drop and alert exactly those.
"""

from __future__ import annotations

import csv
import io
import json
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol


class DemoContext(Protocol):
    outputs: dict[str, Any]

    def client(self, service_name: str) -> Any: ...

    def step(self, message: str) -> None: ...

    def wait_for(self, what: str, check: Any, timeout: float = 30.0,
                 every: float = 0.2) -> Any: ...


HEADER = [" Device ID", "Timestamp", "Temperature (C)", "Pressure kPa", "Vibration mm/s",
          "Status"]


@dataclass
class SensorFile:
    text: str
    accepted: list[list[str]] = field(default_factory=list)  # cleaned rows, in order
    rejected: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    hot_rows: list[int] = field(default_factory=list)  # file row numbers (header = 1)
    fault_rows: list[int] = field(default_factory=list)

    def column(self, index: int) -> list[float]:
        return [float(r[index]) for r in self.accepted if r[index]]


def sensor_file(rows: int, *, seed: int = 1, problems: bool = True) -> SensorFile:
    """`rows` data rows; with `problems`, about 1 in 40 of each kind of planted problem."""
    rng = random.Random(seed)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    f = SensorFile(text="")
    row_no, previous = 1, None
    for i in range(rows):
        row_no += 1
        device = f"dev-{rng.randrange(50):03d}"
        ts = f"2024-05-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z"
        temp = round(rng.gauss(45, 8), 2)
        temp = min(temp, 85.0)
        pressure = round(rng.uniform(90, 110), 3)
        vibration = round(abs(rng.gauss(4, 2)), 2)
        status = rng.choice(["ok", "ok", "ok", "idle"])
        kind = rng.randrange(40) if problems else -1
        row = [f"  {device} ", ts, str(temp), str(pressure), str(vibration), status]
        if kind == 0:
            row = row[:4]
            f.rejected["wrong number of fields"] = f.rejected.get("wrong number of fields",
                                                                  0) + 1
        elif kind == 1:
            row[2] = "n/a"
            f.rejected["temperature_c not a number"] = f.rejected.get(
                "temperature_c not a number", 0) + 1
        elif kind == 2:
            row[3] = "-5"
            f.rejected["pressure_kpa out of range"] = f.rejected.get(
                "pressure_kpa out of range", 0) + 1
        elif kind == 3 and previous is not None:
            row = list(previous)
            f.duplicates += 1
        elif kind == 4:
            row[2] = str(round(rng.uniform(91, 120), 2))
            f.hot_rows.append(row_no)
        elif kind == 5:
            row[5] = rng.choice(["FAULT: fan", "coolant leak", "Overheat warning"])
            f.fault_rows.append(row_no)
        elif kind == 6:
            row[0] = " "
            f.rejected["device_id missing"] = f.rejected.get("device_id missing", 0) + 1
        w.writerow(row)
        if kind not in (0, 1, 2, 3, 6) or (kind == 3 and previous is None):
            f.accepted.append([c.strip() for c in row])
            previous = row
    f.text = out.getvalue()
    return f


def wait_for_summary(ctx: DemoContext, s3: Any, bucket: str, key: str,
                     timeout: float = 60) -> dict[str, Any]:
    def read() -> dict[str, Any] | None:
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            return None

    return ctx.wait_for(f"summary {key}", read, timeout=timeout)


def subscribe_queue(ctx: DemoContext, topic_arn: str, name: str) -> str:
    sqs = ctx.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    ctx.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn,
                                Attributes={"RawMessageDelivery": "true"})
    return url


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                   WaitTimeSeconds=0).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def run(ctx: DemoContext) -> None:
    out = ctx.outputs
    s3, sqs, bucket = ctx.client("s3"), ctx.client("sqs"), out["DataBucketName"]
    run_id = uuid.uuid4().hex[:6]
    inbox = subscribe_queue(ctx, out["AlertTopicArn"], f"edge-demo-{run_id}")
    f = sensor_file(2000, seed=11)
    key = f"incoming/site-7/{run_id}/readings.csv"
    ctx.step(f"PUT {key}: 2,000 rows with planted problems and alerts")
    s3.put_object(Bucket=bucket, Key=key, Body=f.text.encode())
    summary = wait_for_summary(ctx, s3, bucket, f"processed/site-7/{run_id}/readings.summary.json")
    assert summary["status"] == "processed", summary
    assert summary["rows_out"] == len(f.accepted), (summary["rows_out"], len(f.accepted))
    assert summary["rejected"] == dict(sorted(f.rejected.items())), summary["rejected"]
    assert summary["duplicates"] == f.duplicates
    findings = {x["rule"]: x for x in summary["findings"]}
    assert findings["temperature_c > 90"]["count"] == len(f.hot_rows)
    assert findings["status reports a fault"]["count"] == len(f.fault_rows)
    temps = f.column(2)
    stats = summary["statistics"]["temperature_c"]
    assert stats["count"] == len(temps) and stats["max"] == max(temps)
    assert abs(stats["mean"] - sum(temps) / len(temps)) < 1e-6
    ctx.step(f"summary: {summary['rows_out']} rows kept, {sum(f.rejected.values())} rejected, "
             f"{f.duplicates} duplicates; {len(findings)} kinds of finding")
    cleaned = s3.get_object(Bucket=bucket, Key=f"processed/site-7/{run_id}/readings.csv")
    lines = cleaned["Body"].read().decode().splitlines()
    assert lines[0] == "device_id,timestamp,temperature_c,pressure_kpa,vibration_mm_s,status"
    assert len(lines) == len(f.accepted) + 1
    alerts: list[dict[str, Any]] = []
    ctx.wait_for("the alert", lambda: alerts.extend(drain(sqs, inbox)) or alerts, timeout=30)
    assert alerts[0]["source"] == f"s3://{bucket}/{key}"
    assert {x["rule"] for x in alerts[0]["findings"]} == set(findings)
    ctx.step(f"alert on SNS: {', '.join(sorted(findings))}")

    bad = f"incoming/site-7/{run_id}/garbage.csv"
    s3.put_object(Bucket=bucket, Key=bad, Body=b"\xff\xfe\x00binary\x00")
    summary = wait_for_summary(ctx, s3, bucket, f"processed/site-7/{run_id}/garbage.summary.json")
    assert summary["status"] == "unreadable" and "UTF-8" in summary["error"], summary
    ctx.wait_for("the unreadable-file alert", lambda: alerts.extend(drain(sqs, inbox)) or any(
        a["status"] == "unreadable" for a in alerts), timeout=30)
    ctx.step("a binary file: reported unreadable, alerted, not retried")
