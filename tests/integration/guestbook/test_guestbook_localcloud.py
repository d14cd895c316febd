"""guestbook on the local cloud, through its REST API (stage in the path, as on AWS)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(aws_port=0, api_port=free_port(), quiet=True) as c:
        c.deploy(apps={"guestbook"})
        c.start_api()
        yield c


@pytest.fixture(scope="module")
def base(cloud: LocalCloud) -> str:
    return cloud.outputs()["guestbook"]["GuestbookApiUrl"].rstrip("/")


def http(method: str, url: str, raw: bytes | None = None,
         ctype: str = "application/json") -> tuple[int, Any]:
    req = urllib.request.Request(url, data=raw, method=method, headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def sign(base: str, message: Any) -> tuple[int, Any]:
    return http("POST", f"{base}/sign", json.dumps({"message": message}).encode())


def test_the_url_is_the_local_stage(base: str) -> None:
    assert base.startswith("http://127.0.0.1:") and base.endswith("/guestbook/dev")


def test_sign_then_list_and_page_through_everything(base: str) -> None:
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: sign(base, f"guest {i}"), range(40)))
    assert all(status == 201 for status, _ in answers)
    ids = {body["ID"] for _, body in answers}
    assert len(ids) == 40
    seen: list[dict[str, Any]] = []
    url = f"{base}/list?limit=15"
    while url:
        status, page = http("GET", url)
        assert status == 200 and len(page["messages"]) <= 15
        seen += page["messages"]
        url = f"{base}/list?limit=15&next={page['next']}" if page["next"] else ""
    assert ids <= {m["ID"] for m in seen} and len(seen) == len({m["ID"] for m in seen})
    epochs = [m["Epoch"] for m in seen]
    assert epochs == sorted(epochs, reverse=True)
    by_id = {m["ID"]: m["Message"] for m in seen}
    assert {by_id[i] for i in ids} == {f"guest {i}" for i in range(40)}


@pytest.mark.parametrize(("raw", "field"), [
    (json.dumps({"message": "x" * 1001}).encode(), "message"),
    (json.dumps({"message": ""}).encode(), "message"),
    (json.dumps({"message": 7}).encode(), "message"),
    (b"{oops", None),
    (b"", None),
])
def test_bad_input_is_a_400_with_a_json_body(cloud: LocalCloud, base: str, raw: bytes,
                                             field: str | None) -> None:
    table = cloud.outputs()["guestbook"]["GuestbookTableName"]
    ddb = cloud.client("dynamodb")
    before = ddb.scan(TableName=table, Select="COUNT")["Count"]
    status, body = http("POST", f"{base}/sign", raw)
    assert status == 400 and body["code"] == 400 and body.get("field") == field
    assert ddb.scan(TableName=table, Select="COUNT")["Count"] == before


def test_a_1000_character_message_is_accepted(base: str) -> None:
    status, body = sign(base, "ü" * 1000)
    assert status == 201 and body["Message"] == "ü" * 1000


def test_bad_page_token_and_limit(base: str) -> None:
    assert http("GET", f"{base}/list?next=bm90LWEtdG9rZW4")[0] == 400
    assert http("GET", f"{base}/list?limit=500")[0] == 400


def test_unknown_stage_and_route(cloud: LocalCloud, base: str) -> None:
    assert http("GET", base.replace("/dev", "/prod") + "/list")[0] == 403
    assert http("DELETE", f"{base}/sign")[0] in (403, 404)
