"""Amazon Inspector (Classic) notifications -> one summarised notification, and the weekly
assessment run.

Inspector Classic publishes to an SNS topic: one message per finding (FINDING_REPORTED) and
one when a run completes (ASSESSMENT_RUN_COMPLETED, with `findingsCount` per rules package).
A completed run is summarised once: counts by severity and the most severe titles, so a run
with 200 findings is one message, not 200. Single findings are summarised only when they are
High (a parameter), the rest wait for the run's summary.

Inspector's API sits behind the small `InspectorApi` interface: `Boto3Inspector` on AWS; the
embedded local cloud (moto) has no Inspector Classic, so there the API answers with an error
and the summary says the details are unavailable, built from the message alone.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

SEVERITIES = ("High", "Medium", "Low", "Informational", "Undefined")
_COUNT = re.compile(r"(arn:aws[a-z-]*:inspector:[^=,{}\s]+)=(\d+)")


@dataclass(frozen=True)
class Finding:
    arn: str
    severity: str
    title: str
    asset: str


class InspectorApi(Protocol):
    """What this app needs from Inspector (Classic)."""

    def finding_arns(self, run_arn: str, limit: int) -> list[str]: ...

    def describe(self, finding_arns: list[str]) -> list[Finding]: ...

    def start_run(self, template_arn: str, run_name: str) -> str: ...


class Boto3Inspector:
    """InspectorApi over boto3's `inspector` client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def finding_arns(self, run_arn: str, limit: int) -> list[str]:
        arns: list[str] = []
        kwargs: dict[str, Any] = {"assessmentRunArns": [run_arn], "maxResults": 500}
        while len(arns) < limit:
            page = self.client.list_findings(**kwargs)
            arns.extend(page.get("findingArns", []))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        return arns[:limit]

    def describe(self, finding_arns: list[str]) -> list[Finding]:
        out: list[Finding] = []
        for start in range(0, len(finding_arns), 10):  # DescribeFindings takes 10 at most
            page = self.client.describe_findings(findingArns=finding_arns[start:start + 10],
                                                 locale="EN_US")
            for f in page.get("findings", []):
                asset = (f.get("assetAttributes") or {}).get("hostname") or \
                    (f.get("assetAttributes") or {}).get("agentId") or "?"
                out.append(Finding(f["arn"], f.get("severity", "Undefined"),
                                   f.get("title", "(untitled)"), asset))
        return out

    def start_run(self, template_arn: str, run_name: str) -> str:
        return self.client.start_assessment_run(assessmentTemplateArn=template_arn,
                                                assessmentRunName=run_name)["assessmentRunArn"]


def parse_message(text: str) -> dict[str, Any]:
    """The Inspector message of an SNS record; ValueError when it is not one."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not an Inspector notification (not JSON)") from None
    if not isinstance(message, dict) or "event" not in message:
        raise ValueError("not an Inspector notification (no event field)")
    return message


def counts_from_message(message: dict[str, Any]) -> dict[str, int]:
    """Findings per rules package from `findingsCount` ("{arn=2, arn=0}")."""
    return {arn.rsplit("/", 1)[-1]: int(n)
            for arn, n in _COUNT.findall(str(message.get("findingsCount", "")))}


def summarise(message: dict[str, Any], api: InspectorApi, top: int = 5,
              max_findings: int = 1000, single_min_severity: str = "High"
              ) -> tuple[str, str] | None:
    """(subject, text) of the notification for one Inspector message, or None (not worth one)."""
    event = message["event"]
    if event == "ASSESSMENT_RUN_COMPLETED":
        run = message.get("run", "?")
        per_package = counts_from_message(message)
        lines = [f"Inspector assessment run completed: {run}",
                 f"Template: {message.get('template', '?')}",
                 "Findings per rules package: "
                 + (", ".join(f"{p}={n}" for p, n in per_package.items()) or "none reported")]
        try:
            findings = api.describe(api.finding_arns(run, max_findings))
        except (ClientError, BotoCoreError) as err:
            lines.append(f"Details unavailable ({type(err).__name__}): counts from the "
                         "notification only.")
            total = sum(per_package.values())
            return f"Inspector: run completed, {total} finding(s)", "\n".join(lines)
        by_severity = Counter(f.severity for f in findings)
        lines.append("By severity: " + ", ".join(
            f"{s} {by_severity[s]}" for s in SEVERITIES if by_severity[s]) if findings
            else "By severity: no findings")
        worst = sorted(findings, key=lambda f: (SEVERITIES.index(f.severity)
                                                if f.severity in SEVERITIES else 9, f.title))
        for f in worst[:top]:
            lines.append(f"  [{f.severity}] {f.title} ({f.asset})")
        if len(findings) > top:
            lines.append(f"  ... and {len(findings) - top} more")
        subject = (f"Inspector: run completed, {len(findings)} finding(s)"
                   + (f", {by_severity['High']} High" if by_severity["High"] else ""))
        return subject, "\n".join(lines)
    if event == "FINDING_REPORTED":
        arn = message.get("finding", "?")
        try:
            found = api.describe([arn])
        except (ClientError, BotoCoreError):
            found = []
        if found and SEVERITIES.index(found[0].severity if found[0].severity in SEVERITIES
                                      else "Undefined") > SEVERITIES.index(single_min_severity):
            return None  # below the threshold: the run's summary will count it
        if found:
            f = found[0]
            return (f"Inspector: {f.severity} finding on {f.asset}"[:100],
                    f"[{f.severity}] {f.title}\nAsset: {f.asset}\nFinding: {f.arn}\n"
                    f"Run: {message.get('run', '?')}")
        return ("Inspector: finding reported",
                f"Finding: {arn}\nRun: {message.get('run', '?')}\n(details unavailable)")
    return None  # run started / state changed / notifications enabled: nothing to tell


def start_weekly_run(api: InspectorApi, template_arn: str, run_name: str) -> dict[str, Any]:
    """Start the assessment run; a run already in progress is reported, not an error."""
    if not template_arn:
        return {"started": False, "reason": "no AssessmentTemplateArn configured"}
    try:
        run_arn = api.start_run(template_arn, run_name)
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code == "AgentsAlreadyRunningAssessmentException" or \
                code == "AssessmentRunInProgressException":
            return {"started": False, "reason": code}
        raise
    return {"started": True, "assessmentRunArn": run_arn, "name": run_name}
