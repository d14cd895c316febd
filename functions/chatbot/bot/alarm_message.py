"""SNS notifications (CloudWatch alarms above all) as Slack incoming-webhook messages."""

from __future__ import annotations

import json
from typing import Any

COLORS = {"ALARM": "#d62728", "OK": "#2ca02c", "INSUFFICIENT_DATA": "#ff7f0e"}
EMOJI = {"ALARM": ":rotating_light:", "OK": ":white_check_mark:",
         "INSUFFICIENT_DATA": ":grey_question:"}


def is_alarm(message: Any) -> bool:
    return isinstance(message, dict) and {"AlarmName", "NewStateValue"} <= set(message)


def _trigger(trigger: dict[str, Any]) -> str:
    metric = trigger.get("MetricName") or "expression"
    namespace = trigger.get("Namespace")
    op = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=",
          "LessThanThreshold": "<", "LessThanOrEqualToThreshold": "<="}.get(
        trigger.get("ComparisonOperator", ""), trigger.get("ComparisonOperator", "?"))
    stat = trigger.get("Statistic") or trigger.get("ExtendedStatistic") or ""
    where = f"{namespace} " if namespace else ""
    return f"{stat} {where}{metric} {op} {trigger.get('Threshold')}".strip()


def slack_message(subject: str | None, raw: str) -> dict[str, Any]:
    """The webhook payload for one SNS message: an alarm card, or the text as it came."""
    try:
        message = json.loads(raw)
    except ValueError:
        message = raw
    if not is_alarm(message):
        text = f"*{subject}*\n{raw}" if subject else raw
        return {"text": text[:3000]}
    state = message["NewStateValue"]
    old = message.get("OldStateValue")
    name = message["AlarmName"]
    title = f"{EMOJI.get(state, '')} {name} is {state}" + (f" (was {old})" if old else "")
    fields = [f"*Reason:* {message.get('NewStateReason', '')}"]
    if message.get("AlarmDescription"):
        fields.insert(0, f"*Description:* {message['AlarmDescription']}")
    if isinstance(message.get("Trigger"), dict):
        fields.append(f"*Condition:* {_trigger(message['Trigger'])}")
    where = (message.get("Region", "?"), message.get("AWSAccountId", "?"),
             message.get("StateChangeTime", "?"))
    fields.append("*Region:* {} · *Account:* {} · *At:* {}".format(*where))
    return {"text": title.strip(),
            "attachments": [{"color": COLORS.get(state, "#808080"),
                             "blocks": [{"type": "section",
                                         "text": {"type": "mrkdwn", "text": "\n".join(fields)}}]}]}
