"""Physical names for resources without one, deterministic so every process agrees on them."""

from __future__ import annotations

import hashlib
import re

_LIMITS = {
    "AWS::Lambda::Function": 64,
    "AWS::IAM::Role": 64,
    "AWS::S3::Bucket": 63,
    "AWS::SQS::Queue": 80,
    "AWS::SNS::Topic": 256,
    "AWS::DynamoDB::Table": 255,
    "AWS::Kinesis::Stream": 128,
    "AWS::StepFunctions::StateMachine": 80,
    "AWS::Events::Rule": 64,
    "AWS::Scheduler::Schedule": 64,
    "AWS::KinesisFirehose::DeliveryStream": 64,
}


def physical_name(stack: str, logical_id: str, resource_type: str, suffix: str = "") -> str:
    """`<stack>-<LogicalId>-<hash>` trimmed to the service's limit, like CloudFormation does."""
    limit = _LIMITS.get(resource_type, 128) - len(suffix)
    digest = hashlib.sha1(f"{stack}/{logical_id}".encode()).hexdigest()[:8]
    base = f"{stack}-{logical_id}"
    if resource_type == "AWS::S3::Bucket":
        base = re.sub(r"[^a-z0-9-]", "-", base.lower())
        digest = digest.lower()
    else:
        base = re.sub(r"[^A-Za-z0-9_-]", "-", base)
    base = base[: limit - len(digest) - 1].rstrip("-")
    return f"{base}-{digest}{suffix}"
