"""What an S3 data event recorded by CloudTrail says, and what in it deserves an alert.

Plain functions: the CloudTrail record (the `detail` of an "AWS API Call via CloudTrail" event)
becomes an Activity (who, what, when, from where); watched principals are matched by glob
patterns; keys and content samples are scanned for things that look like personal data. Only
the kinds of PII found and their counts leave this module, never the values.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

WRITE_EVENTS = frozenset({"PutObject", "CopyObject", "CompleteMultipartUpload", "PostObject"})


class BadEvent(ValueError):
    """Not a CloudTrail record of an S3 object-level API call."""


@dataclass(frozen=True)
class Principal:
    type: str
    arn: str
    principal_id: str
    account_id: str
    user_name: str
    issuer_arn: str  # the role behind an assumed-role session, else ""

    def names(self) -> list[str]:
        """Every identifier a watch pattern may name."""
        return [n for n in (self.arn, self.issuer_arn, self.user_name, self.principal_id) if n]


@dataclass(frozen=True)
class Activity:
    event_id: str
    event_time: str
    event_name: str
    read_only: bool
    bucket: str
    keys: tuple[str, ...]
    principal: Principal
    source_ip: str
    user_agent: str
    region: str
    error_code: str
    request_id: str
    vpc_endpoint: str

    @property
    def is_write(self) -> bool:
        return self.event_name in WRITE_EVENTS and not self.error_code


def _keys(detail: dict[str, Any], bucket: str) -> list[str]:
    params = detail.get("requestParameters") or {}
    if isinstance(params.get("key"), str) and params["key"]:
        return [params["key"]]
    prefix = f"arn:aws:s3:::{bucket}/"
    found = [r["ARN"][len(prefix):] for r in detail.get("resources") or []
             if r.get("type") == "AWS::S3::Object" and str(r.get("ARN", "")).startswith(prefix)]
    if found:
        return found
    objects = ((params.get("delete") or {}).get("Object")) or []
    if isinstance(objects, dict):
        objects = [objects]
    return [o["Key"] for o in objects if isinstance(o, dict) and o.get("Key")]


def parse_activity(event: dict[str, Any]) -> Activity:
    """The Activity of an EventBridge event carrying a CloudTrail S3 data event."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(detail, dict):
        raise BadEvent("event has no CloudTrail record in 'detail'")
    if detail.get("eventSource") != "s3.amazonaws.com":
        raise BadEvent(f"not an S3 event: eventSource={detail.get('eventSource')!r}")
    for name in ("eventID", "eventTime", "eventName"):
        if not isinstance(detail.get(name), str) or not detail[name]:
            raise BadEvent(f"CloudTrail record lacks {name}")
    params = detail.get("requestParameters") or {}
    bucket = params.get("bucketName") or ""
    if not bucket:
        raise BadEvent("CloudTrail record names no bucket")
    ident = detail.get("userIdentity") or {}
    issuer = ((ident.get("sessionContext") or {}).get("sessionIssuer") or {}).get("arn", "")
    principal = Principal(type=str(ident.get("type", "")), arn=str(ident.get("arn", "")),
                          principal_id=str(ident.get("principalId", "")),
                          account_id=str(ident.get("accountId", "")),
                          user_name=str(ident.get("userName") or ident.get("username") or
                                        ident.get("invokedBy") or ""),
                          issuer_arn=str(issuer))
    return Activity(
        event_id=detail["eventID"], event_time=detail["eventTime"],
        event_name=detail["eventName"], read_only=bool(detail.get("readOnly", False)),
        bucket=bucket, keys=tuple(_keys(detail, bucket)), principal=principal,
        source_ip=str(detail.get("sourceIPAddress", "")),
        user_agent=str(detail.get("userAgent", ""))[:512],
        region=str(detail.get("awsRegion", event.get("region", ""))),
        error_code=str(detail.get("errorCode", "")), request_id=str(detail.get("requestID", "")),
        vpc_endpoint=str(detail.get("vpcEndpointId", "")))


def watched_match(principal: Principal, patterns: list[str]) -> str | None:
    """The first watch pattern (glob, case-sensitive as ARNs are) naming this principal."""
    for pattern in patterns:
        if any(fnmatch.fnmatchcase(name, pattern) for name in principal.names()):
            return pattern
    return None


def in_locations(bucket: str, key: str, locations: list[str]) -> bool:
    """Whether bucket/key is under one of the watched `bucket/prefix` locations."""
    path = f"{bucket}/{key}"
    return any(path.startswith(loc if "/" in loc else f"{loc}/") for loc in locations)


# --- personal data ------------------------------------------------------------------------

_SEP = r"[/_\-. +]"
_KEY_WORDS = re.compile(
    rf"(?i)(?:^|{_SEP})(ssn|social{_SEP}?security|passports?|date{_SEP}?of{_SEP}?birth|dob|"
    rf"tax{_SEP}?id|payroll|salar(?:y|ies)|medical|patients?|credit{_SEP}?cards?|"
    rf"driver'?s?{_SEP}?licen[cs]e)(?={_SEP}|$)")
_SSN = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if double:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        double = not double
    return total % 10 == 0


def _iban_ok(text: str) -> bool:
    s = text.replace(" ", "")
    moved = s[4:] + s[:4]
    return 15 <= len(s) <= 34 and int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def pii_counts(text: str) -> dict[str, int]:
    """Kinds of personal data in `text` and how often each appears (no values kept)."""
    out: dict[str, int] = {}
    for name, rx, check in (("ssn", _SSN, None), ("email", _EMAIL, None),
                            ("card_number", _CARD,
                             lambda m: luhn_ok(re.sub(r"\D", "", m)) and len(
                                 re.sub(r"\D", "", m)) >= 13),
                            ("iban", _IBAN, _iban_ok)):
        n = sum(1 for m in rx.finditer(text) if check is None or check(m.group(0)))
        if n:
            out[name] = n
    return out


def key_pii(key: str) -> list[str]:
    """Why a key looks like it names personal data ([] when it does not)."""
    text = unquote(key)
    found = sorted({m.group(1).lower().replace(" ", "_") for m in _KEY_WORDS.finditer(text)})
    reasons = [f"keyword:{w}" for w in found]
    reasons += sorted(pii_counts(text))
    return reasons


@dataclass
class Verdict:
    watched_principal: str | None = None
    pii_keys: dict[str, list[str]] = field(default_factory=dict)
    pii_content: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def alerts(self) -> list[str]:
        out = []
        if self.watched_principal:
            out.append("watched_principal")
        if self.pii_keys:
            out.append("pii_key")
        if self.pii_content:
            out.append("pii_content")
        return out
