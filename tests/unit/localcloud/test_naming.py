"""Physical names for resources the template does not name."""

from __future__ import annotations

import re

import pytest

from localcloud.naming import physical_name


def test_names_are_deterministic_and_distinct_per_stack_and_id() -> None:
    a = physical_name("local", "Queue", "AWS::SQS::Queue")
    assert a == physical_name("local", "Queue", "AWS::SQS::Queue")
    assert re.fullmatch(r"local-Queue-[0-9a-f]{8}", a)
    assert a != physical_name("other", "Queue", "AWS::SQS::Queue")
    assert a != physical_name("local", "Queue2", "AWS::SQS::Queue")


@pytest.mark.parametrize(("rtype", "limit"), [
    ("AWS::Lambda::Function", 64), ("AWS::IAM::Role", 64), ("AWS::S3::Bucket", 63),
    ("AWS::SQS::Queue", 80), ("AWS::Events::Rule", 64), ("AWS::Kinesis::Stream", 128),
    ("AWS::StepFunctions::StateMachine", 80),
])
def test_long_names_are_cut_to_the_service_limit(rtype: str, limit: int) -> None:
    name = physical_name("a-very-long-stack-name" * 4, "AnEvenLongerLogicalId" * 6, rtype)
    assert len(name) <= limit
    assert re.search(r"-[0-9a-f]{8}$", name)  # the hash survives the cut
    assert "--" not in name


def test_s3_bucket_names_are_lowercase_and_dns_safe() -> None:
    name = physical_name("Local_Stack", "UploadsBucket", "AWS::S3::Bucket")
    assert name == name.lower()
    assert re.fullmatch(r"[a-z0-9][a-z0-9-]*[a-z0-9]", name)
    assert name.startswith("local-stack-uploadsbucket-")


def test_suffix_is_kept_within_the_limit() -> None:
    name = physical_name("s" * 70, "Jobs", "AWS::SQS::Queue", ".fifo")
    assert name.endswith(".fifo") and len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.fifo", name)
