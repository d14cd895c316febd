"""Inspector notifications and the weekly run. The logic runs against a fake InspectorApi; the
boto3 edge (Boto3Inspector) runs against botocore's Stubber, which checks each request against
Inspector Classic's service model (moto has no Inspector Classic)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from ebs_snapshots_testlib import ROOT
from inspector_findings import (
    Boto3Inspector,
    Finding,
    counts_from_message,
    parse_message,
    start_weekly_run,
    summarise,
)

TEMPLATE = "arn:aws:inspector:us-east-1:123456789012:target/0-nvgVhaxX/template/0-7sbz2Kz0"


def message(name: str) -> dict:
    event = json.loads((ROOT / "events" / "ebs_snapshots" / name).read_text())
    return parse_message(event["Records"][0]["Sns"]["Message"])


class FakeInspector:
    def __init__(self, findings: list[Finding] | None = None, fail: bool = False) -> None:
        self.findings, self.fail, self.started = findings or [], fail, []

    def _check(self) -> None:
        if self.fail:
            raise ClientError({"Error": {"Code": "UnknownOperationException",
                                         "Message": "no Inspector"}}, "ListFindings")

    def finding_arns(self, run_arn: str, limit: int) -> list[str]:
        self._check()
        return [f.arn for f in self.findings][:limit]

    def describe(self, finding_arns: list[str]) -> list[Finding]:
        self._check()
        return [f for f in self.findings if f.arn in finding_arns]

    def start_run(self, template_arn: str, run_name: str) -> str:
        self.started.append((template_arn, run_name))
        return f"{template_arn}/run/0-new"


FINDINGS = [Finding(f"arn:f{i}", sev, title, f"host-{i}") for i, (sev, title) in enumerate([
    ("Medium", "CVE-2024-0002 in openssl"), ("High", "CVE-2024-0001 in kernel"),
    ("Low", "Weak TLS cipher"), ("High", "CVE-2023-9999 in glibc"),
    ("Informational", "Agent version"), ("Medium", "CVE-2024-0003 in curl"),
    ("Low", "Banner exposed")])]


def test_a_completed_run_is_one_summary_worst_first() -> None:
    subject, text = summarise(message("inspector_run_completed.json"), FakeInspector(FINDINGS))
    assert subject == "Inspector: run completed, 7 finding(s), 2 High"
    lines = text.splitlines()
    assert lines[2] == "Findings per rules package: 0-gEjTy7T7=3, 0-rExsr2X8=0"
    assert lines[3] == "By severity: High 2, Medium 2, Low 2, Informational 1"
    assert lines[4:9] == ["  [High] CVE-2023-9999 in glibc (host-3)",
                          "  [High] CVE-2024-0001 in kernel (host-1)",
                          "  [Medium] CVE-2024-0002 in openssl (host-0)",
                          "  [Medium] CVE-2024-0003 in curl (host-5)",
                          "  [Low] Banner exposed (host-6)"]
    assert lines[9] == "  ... and 2 more"


def test_without_the_api_the_summary_comes_from_the_message() -> None:
    subject, text = summarise(message("inspector_run_completed.json"), FakeInspector(fail=True))
    assert subject == "Inspector: run completed, 3 finding(s)"
    assert "Details unavailable (ClientError)" in text


def test_single_findings_only_when_high() -> None:
    reported = message("inspector_finding_reported.json")
    high = Finding(reported["finding"], "High", "CVE-2024-0001 in kernel", "web-1")
    subject, text = summarise(reported, FakeInspector([high]))
    assert subject == "Inspector: High finding on web-1"
    assert text.startswith("[High] CVE-2024-0001 in kernel")
    low = Finding(reported["finding"], "Low", "Banner", "web-1")
    assert summarise(reported, FakeInspector([low])) is None
    assert summarise(reported, FakeInspector(fail=True))[0] == "Inspector: finding reported"
    assert summarise({"event": "ASSESSMENT_RUN_STARTED"}, FakeInspector()) is None


def test_messages_that_are_not_inspectors_are_refused() -> None:
    with pytest.raises(ValueError):
        parse_message("hello")
    with pytest.raises(ValueError):
        parse_message('{"Records": []}')
    assert counts_from_message({"findingsCount": "{}"}) == {}


def test_the_weekly_run() -> None:
    api = FakeInspector()
    assert start_weekly_run(api, "", "weekly-2024-05-12") == {
        "started": False, "reason": "no AssessmentTemplateArn configured"}
    out = start_weekly_run(api, TEMPLATE, "weekly-2024-05-12")
    assert out == {"started": True, "assessmentRunArn": f"{TEMPLATE}/run/0-new",
                   "name": "weekly-2024-05-12"}
    assert api.started == [(TEMPLATE, "weekly-2024-05-12")]


@pytest.fixture
def stubbed():
    client = boto3.client("inspector", region_name="us-east-1")
    with Stubber(client) as stub:
        yield Boto3Inspector(client), stub


def test_the_boto3_edge_starts_a_run(stubbed) -> None:
    api, stub = stubbed
    stub.add_response("start_assessment_run", {"assessmentRunArn": f"{TEMPLATE}/run/0-abc"},
                      {"assessmentTemplateArn": TEMPLATE, "assessmentRunName": "weekly-x"})
    assert start_weekly_run(api, TEMPLATE, "weekly-x")["assessmentRunArn"] == \
        f"{TEMPLATE}/run/0-abc"
    stub.add_client_error("start_assessment_run", "AgentsAlreadyRunningAssessmentException")
    assert start_weekly_run(api, TEMPLATE, "weekly-y") == {
        "started": False, "reason": "AgentsAlreadyRunningAssessmentException"}
    stub.add_client_error("start_assessment_run", "AccessDeniedException")
    with pytest.raises(ClientError):
        start_weekly_run(api, TEMPLATE, "weekly-z")
    stub.assert_no_pending_responses()


def test_the_boto3_edge_lists_and_describes_in_allowed_batches(stubbed) -> None:
    api, stub = stubbed
    run = f"{TEMPLATE}/run/0-abc"
    arns = [f"{run}/finding/0-{i:04d}" for i in range(23)]
    stub.add_response("list_findings", {"findingArns": arns[:20], "nextToken": "t"},
                      {"assessmentRunArns": [run], "maxResults": 500})
    stub.add_response("list_findings", {"findingArns": arns[20:]},
                      {"assessmentRunArns": [run], "maxResults": 500, "nextToken": "t"})
    now = datetime(2024, 5, 12, tzinfo=UTC)
    for start in range(0, 23, 10):  # DescribeFindings takes at most 10 ARNs
        batch = arns[start:start + 10]
        stub.add_response("describe_findings", {"failedItems": {}, "findings": [
            {"arn": a, "attributes": [], "userAttributes": [], "createdAt": now,
             "updatedAt": now, "severity": "High", "title": f"t{a[-2:]}",
             "assetAttributes": {"schemaVersion": 1, "hostname": "web-1"}} for a in batch]},
            {"findingArns": batch, "locale": "EN_US"})
    found = api.describe(api.finding_arns(run, 1000))
    assert len(found) == 23 and found[0] == Finding(arns[0], "High", "t00", "web-1")
    stub.assert_no_pending_responses()
