"""Events -> shares -> one coalesced RefreshCache request per share; the gateway edge."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from gateway_client import AwsGateway, GatewayError, LocalGateway
from refresh_plan import (
    MAX_FOLDERS,
    BadMessage,
    Change,
    Share,
    changes_in,
    coalesce,
    plan,
    shares_from_items,
)

ARN = "arn:aws:storagegateway:us-east-1:123456789012:share/share-{}"


def body(*keys: str, event: str = "ObjectCreated:Put", bucket: str = "b") -> str:
    return json.dumps({"Records": [{"eventName": event, "s3": {
        "bucket": {"name": bucket}, "object": {"key": k}}} for k in keys]})


def test_changes_are_decoded_and_other_events_skipped() -> None:
    got = changes_in("m1", body("a/b+c/d%C3%A9.txt"))
    assert got == [Change("m1", "b", "a/b c/dé.txt", "ObjectCreated:Put")]
    assert changes_in("m2", body("x", event="ObjectRestore:Post")) == []
    assert changes_in("m3", json.dumps({"Event": "s3:TestEvent"})) == []
    for bad in ("nope", json.dumps([1]), json.dumps({"Records": [{"eventName": "x"}]}),
                body("bad%FFkey")):
        with pytest.raises(BadMessage):
            changes_in("m", bad)


@pytest.mark.parametrize(("prefix", "key", "folder"), [
    ("", "top.txt", "/"),
    ("", "a/b/c.txt", "/a/b"),
    ("projects/", "projects/alpha/src/x.py", "/alpha/src"),
    ("projects/", "projects/readme.md", "/"),
    ("projects/", "projects/newdir/", "/"),  # a folder marker shows in its parent
])
def test_folders_are_relative_to_the_share_root(prefix: str, key: str, folder: str) -> None:
    assert Share("s", "b", prefix).folder_of(key) == folder


def test_few_folders_are_refreshed_exactly() -> None:
    assert coalesce(["/b", "/a/x", "/a"]) == (["/a", "/a/x", "/b"], False)
    assert coalesce([]) == (["/"], False)


def test_many_folders_are_lifted_to_ancestors_and_refreshed_recursively() -> None:
    folders = [f"/team{t}/user{u}/docs" for t in range(4) for u in range(30)] + ["/team0"]
    listed, recursive = coalesce(folders)
    assert recursive and len(listed) <= MAX_FOLDERS
    assert all(any(f == a or f.startswith(a + "/") for a in listed) for f in folders)
    assert not any(a != b and b.startswith(a + "/") for a in listed for b in listed)
    assert coalesce([f"/d{i}" for i in range(51)]) == (["/"], True)


def test_one_refresh_per_share_and_unmapped_changes() -> None:
    shares = shares_from_items([
        {"bucket": "b", "share_arn": ARN.format(1), "prefix": "projects"},
        {"bucket": "b", "share_arn": ARN.format(2), "prefix": "projects/alpha/"},
        {"bucket": "other", "share_arn": ARN.format(3), "prefix": ""}])
    changes = [Change(f"m{i}", "b", k, "ObjectCreated:Put") for i, k in enumerate([
        "projects/alpha/a.txt", "projects/alpha/b.txt", "projects/beta/c.txt", "misc/d.txt"])]
    refreshes, unmapped = plan(changes, shares)
    by_share = {r.share.arn: r for r in refreshes}
    assert set(by_share) == {ARN.format(1), ARN.format(2)}
    assert by_share[ARN.format(1)].folders == ["/alpha", "/beta"]
    assert by_share[ARN.format(1)].message_ids == {"m0", "m1", "m2"}
    assert by_share[ARN.format(2)].folders == ["/"]
    assert by_share[ARN.format(2)].changes == 2
    assert [c.key for c in unmapped] == ["misc/d.txt"]


def test_local_gateway_knows_its_shares(tmp_path: Path) -> None:
    gw = LocalGateway(tmp_path)
    (tmp_path / "shares.json").write_text(json.dumps({"shares": [ARN.format(1)]}))
    assert gw.refresh_cache(ARN.format(1), ["/a"], False)
    with pytest.raises(GatewayError, match="not found") as err:
        gw.refresh_cache(ARN.format(9), ["/a"], False)
    assert err.value.code == "InvalidGatewayRequestException"
    calls = [json.loads(x) for x in gw.calls_file.read_text().splitlines()]
    assert [(c["share"], c["folders"], c["recursive"]) for c in calls] == [
        (ARN.format(1), ["/a"], False)]


def test_aws_gateway_sends_refresh_cache_and_maps_refusals() -> None:
    client = boto3.client("storagegateway", region_name="us-east-1")
    gw = AwsGateway(client)
    with Stubber(client) as stub:  # botocore checks the request against the API model
        stub.add_response("refresh_cache", {"FileShareARN": ARN.format(1),
                                            "NotificationId": "n-1"},
                          {"FileShareARN": ARN.format(1), "FolderList": ["/a", "/b"],
                           "Recursive": False})
        stub.add_client_error("refresh_cache", "InvalidGatewayRequestException",
                              "too many requests", expected_params={
                                  "FileShareARN": ARN.format(1), "FolderList": ["/"],
                                  "Recursive": True})
        assert gw.refresh_cache(ARN.format(1), ["/a", "/b"], False) == "n-1"
        with pytest.raises(GatewayError, match="too many requests") as err:
            gw.refresh_cache(ARN.format(1), ["/"], True)
        assert err.value.code == "InvalidGatewayRequestException"
