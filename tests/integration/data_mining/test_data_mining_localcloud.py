"""data_mining end to end on localcloud with its sources as real HTTP servers on 127.0.0.1:
upload -> S3 trigger -> state machine (ETL, distributed Map over identifiers read from S3,
populate) -> items with unified properties; errors, timeouts, retries and the rate limit."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from localcloud.demo import DemoContext
from localcloud.testing import running_cloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("data_mining_demo_it",
                                                  ROOT / "functions/data_mining/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()



@pytest.fixture(scope="module")
def cloud():
    with running_cloud({"data_mining"}) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def ctx(cloud) -> DemoContext:
    ctx = DemoContext(cloud, "data_mining")
    ctx.steps = []  # type: ignore[attr-defined]
    ctx.step = ctx.steps.append  # type: ignore[method-assign, attr-defined]
    return ctx


def _upload_and_wait(ctx, key: str, body: bytes) -> dict[str, Any]:
    sfn = ctx.client("stepfunctions")
    machine = ctx.outputs["MiningStateMachineArn"]
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)[
        "executions"]}
    ctx.client("s3").put_object(Bucket=ctx.outputs["DataBucketName"], Key=key, Body=body)
    execution = ctx.wait_for(f"the execution for {key}", lambda: next(
        (e for e in sfn.list_executions(stateMachineArn=machine)["executions"]
         if e["executionArn"] not in before), None), timeout=60)
    return demo.wait_execution(sfn, execution["executionArn"])


@pytest.mark.slow
def test_mining_end_to_end_with_local_sources(ctx) -> None:
    summary = demo.run(ctx, items=24)
    assert summary["items"] == 24
    assert summary["sources"]["slow_api"]["error"] == 4  # timed out, recorded, run went on
    assert summary["sources"]["flaky_api"]["error"] == 2  # 500 after 3 attempts
    assert summary["unmapped"]["catalog_page"] == {"Warranty": 20}
    assert any("populate re-run without scraping" in s for s in ctx.steps)


def test_dataset_without_identifiers_ends_failed_with_the_reason(ctx) -> None:
    described = _upload_and_wait(ctx, "uploads/no_sku.csv", b"name,price\nwidget,3\n")
    assert (described["status"], described.get("error")) == ("FAILED", "DatasetError")
    assert "no sku column in the header (name, price)" in described["cause"]


def test_empty_dataset_succeeds_with_nothing_to_mine(ctx) -> None:
    described = _upload_and_wait(ctx, "uploads/empty.csv", b"SKU,Manufacturer\n,acme\n")
    assert described["status"] == "SUCCEEDED"
    output = json.loads(described["output"])
    assert (output["items"], output["dropped_no_sku"]) == (0, 1)
    assert "populate" not in output
