"""Key decoding, part planning and the copy itself (CopyObject and multipart) against moto."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import boto3
import pytest
from fanout_copy import (
    GIB,
    MAX_PARTS,
    MIB,
    BadRecord,
    Settings,
    SourceObject,
    decode_key,
    plan_parts,
    replicate,
    replicate_event,
    s3_records,
    source_of,
)
from moto import mock_aws


def s3_event(bucket: str, *keys: str, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    """A Lambda event from SNS carrying one S3 notification with these (raw, encoded) keys."""
    message = {"Records": [{"eventSource": "aws:s3", "eventName": event,
                            "s3": {"bucket": {"name": bucket}, "object": {"key": k, "size": 1}}}
                           for k in keys]}
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"Message": json.dumps(message)}}]}


@pytest.fixture
def s3() -> Any:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        for name in ("src", "dst"):
            client.create_bucket(Bucket=name)
        yield client


@pytest.mark.parametrize(("raw", "key"), [
    ("dir/a+b%2Bc+%C3%A9.txt", "dir/a b+c é.txt"),
    ("plain.csv", "plain.csv"),
    ("%E6%97%A5%E6%9C%AC/x%3Dy%26z", "日本/x=y&z"),
])
def test_keys_are_url_decoded_with_plus_as_space(raw: str, key: str) -> None:
    assert decode_key(raw) == key


def test_a_key_that_is_not_utf8_is_a_bad_record() -> None:
    with pytest.raises(BadRecord, match="not URL-encoded UTF-8"):
        decode_key("bad%E9name")


def test_s3_test_events_and_non_s3_messages() -> None:
    assert s3_records(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    with pytest.raises(BadRecord):
        s3_records("not json")
    with pytest.raises(BadRecord):
        s3_records(json.dumps({"hello": 1}))
    with pytest.raises(BadRecord, match="lacks"):
        source_of({"s3": {"bucket": {"name": "b"}}})


@pytest.mark.parametrize(("size", "part", "count", "first_len"), [
    (13 * MIB, 5 * MIB, 3, 5 * MIB),
    (10 * MIB, 5 * MIB, 2, 5 * MIB),  # exact multiple: no empty last part
    (6 * GIB, 512 * MIB, 12, 512 * MIB),
    (12 * MIB, 1, 3, 5 * MIB),  # below S3's minimum part: raised to 5 MiB
])
def test_parts_cover_the_object_exactly(size: int, part: int, count: int, first_len: int) -> None:
    parts = plan_parts(size, part)
    assert len(parts) == count
    assert parts[0].first == 0 and parts[-1].last == size - 1
    assert parts[0].last - parts[0].first + 1 == first_len
    for before, after in zip(parts, parts[1:], strict=False):
        assert after.first == before.last + 1
        assert after.number == before.number + 1
    assert parts[0].header == f"bytes=0-{first_len - 1}"


def test_a_huge_object_gets_bigger_parts_to_stay_within_10000() -> None:
    size = 5 * 1024 * GIB  # 5 TiB, S3's largest object
    parts = plan_parts(size, 5 * MIB)
    assert len(parts) <= MAX_PARTS
    assert parts[-1].last == size - 1
    assert (parts[0].last + 1) % MIB == 0  # whole MiB parts
    assert parts[0].last + 1 <= 5 * GIB


def test_small_objects_are_copied_with_metadata_and_tags(s3: Any) -> None:
    s3.put_object(Bucket="src", Key="a b.txt", Body=b"hello", ContentType="text/plain",
                  Metadata={"owner": "ops"}, Tagging="team=blue", CacheControl="max-age=60")
    result = replicate(s3, SourceObject("src", "a b.txt"), Settings(destination="dst"))
    assert (result.method, result.size) == ("copy", 5)
    head = s3.head_object(Bucket="dst", Key="a b.txt")
    assert head["Metadata"] == {"owner": "ops"}
    assert head["ContentType"] == "text/plain"
    assert head["CacheControl"] == "max-age=60"
    assert s3.get_object(Bucket="dst", Key="a b.txt")["Body"].read() == b"hello"
    assert s3.get_object_tagging(Bucket="dst", Key="a b.txt")["TagSet"] == [
        {"Key": "team", "Value": "blue"}]


def test_objects_above_the_threshold_are_copied_in_parts(s3: Any) -> None:
    body = os.urandom(13 * MIB)
    s3.put_object(Bucket="src", Key="big/x.bin", Body=body, ContentType="application/x-bin",
                  Metadata={"origin": "sensor-7"}, Tagging="class=raw")
    settings = Settings(destination="dst", multipart_threshold=6 * MIB, part_size=5 * MIB)
    result = replicate(s3, SourceObject("src", "big/x.bin"), settings)
    assert (result.method, result.parts, result.size) == ("multipart", 3, len(body))
    got = s3.get_object(Bucket="dst", Key="big/x.bin")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()
    assert got["ETag"].strip('"').endswith("-3")  # a multipart object's ETag
    assert got["Metadata"] == {"origin": "sensor-7"}
    assert got["ContentType"] == "application/x-bin"
    assert s3.get_object_tagging(Bucket="dst", Key="big/x.bin")["TagSet"] == [
        {"Key": "class", "Value": "raw"}]
    assert s3.list_multipart_uploads(Bucket="dst").get("Uploads", []) == []


def test_a_failed_multipart_copy_is_aborted(s3: Any) -> None:
    s3.put_object(Bucket="src", Key="big.bin", Body=os.urandom(11 * MIB))
    calls = {"n": 0}
    original = s3.upload_part_copy

    def flaky(**kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("connection reset")
        return original(**kw)

    s3.upload_part_copy = flaky
    settings = Settings(destination="dst", multipart_threshold=6 * MIB, part_size=5 * MIB)
    with pytest.raises(RuntimeError, match="connection reset"):
        replicate(s3, SourceObject("src", "big.bin"), settings)
    assert s3.list_multipart_uploads(Bucket="dst").get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket="dst")


def test_every_record_is_handled_and_failures_are_collected(s3: Any) -> None:
    s3.put_object(Bucket="src", Key="ok 1.txt", Body=b"1")
    s3.put_object(Bucket="src", Key="ok+2.txt", Body=b"2")
    event = s3_event("src", "ok+1.txt", "bad%E9", "missing.txt", "ok%2B2.txt")
    outcome = replicate_event(s3, event, Settings(destination="dst"))
    assert sorted(c.key for c in outcome.copied) == ["ok 1.txt", "ok+2.txt"]
    errors = {f["key"]: f["error"] for f in outcome.failed}
    assert set(errors) == {"bad%E9", "missing.txt"}
    assert "UTF-8" in errors["bad%E9"]
    assert errors["missing.txt"].startswith("404")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="dst")["Contents"]]
    assert sorted(keys) == ["ok 1.txt", "ok+2.txt"]


def test_removal_events_and_test_events_are_skipped(s3: Any) -> None:
    event = s3_event("src", "gone.txt", event="ObjectRemoved:Delete")
    event["Records"].append({"Sns": {"Message": json.dumps({"Event": "s3:TestEvent"})}})
    outcome = replicate_event(s3, event, Settings(destination="dst"))
    assert (outcome.copied, outcome.failed, outcome.skipped) == ([], [], 2)
