"""guestbook: the handler on REST proxy events against moto's DynamoDB (the stack's table)."""

from __future__ import annotations

import contextlib
import json
import string
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "guestbook"
TABLE = "guestbook-test"


class Ctx:
    function_name = "guestbook"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:guestbook"
    aws_request_id = "req-1"


@pytest.fixture
def app(load_module: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("GUESTBOOK_TABLE_NAME", TABLE)
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "guestbook")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    code = str(ROOT / "functions" / "guestbook" / "api")
    monkeypatch.syspath_prepend(code)
    from common import aws, observability

    aws.clear_cache()
    observability.reset()
    with mock_aws():
        props = cfn_yaml.load(ROOT / "stacks" / "guestbook.yaml")["Resources"][
            "GuestbookTable"]["Properties"]
        boto3.client("dynamodb").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=props["AttributeDefinitions"], KeySchema=props["KeySchema"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"])
        for name in ("book", "app"):
            __import__("sys").modules.pop(name, None)
        yield load_module("functions/guestbook/api/app.py", "guestbook_app")
    aws.clear_cache()


def event(name: str, **changes: Any) -> dict[str, Any]:
    ev = json.loads((EVENTS / f"{name}.json").read_text())
    ev.update(changes)
    return ev


def call(app: Any, ev: dict[str, Any]) -> tuple[int, Any]:
    out = app.handler(ev, Ctx())
    return out["statusCode"], json.loads(out["body"])


def sign(app: Any, message: Any) -> tuple[int, Any]:
    return call(app, event("sign", body=json.dumps({"message": message})))


def listing(app: Any, **params: str) -> tuple[int, Any]:
    return call(app, event("list", queryStringParameters=params or None))


def test_sign_stores_the_message_with_a_20_letter_id(app: Any) -> None:
    status, body = sign(app, "Hello from cURL!")
    assert status == 201
    assert len(body["ID"]) == 20 and set(body["ID"]) <= set(string.ascii_uppercase)
    item = boto3.resource("dynamodb").Table(TABLE).get_item(
        Key={"ID": body["ID"], "Epoch": body["Epoch"]})["Item"]
    assert item["Message"] == "Hello from cURL!" and item["Book"] == "guestbook"
    assert item["Created"].endswith("#" + body["ID"])


@pytest.mark.parametrize(("message", "status"), [
    ("x", 201), ("é" * 1000, 201), ("x" * 1001, 400), ("", 400), ("   ", 400), (None, 400),
    (42, 400), (["hi"], 400)])
def test_message_length_and_type(app: Any, message: Any, status: int) -> None:
    got, body = sign(app, message)
    assert got == status, body
    if status == 400:
        assert body["code"] == 400 and body["field"] == "message"
        assert body["request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_the_sample_oversized_event_is_refused(app: Any) -> None:
    status, body = call(app, event("sign_too_long"))
    assert status == 400 and "1000" in body["message"]
    assert boto3.client("dynamodb").scan(TableName=TABLE)["Count"] == 0


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "\"text\"", None])
def test_malformed_bodies(app: Any, raw: str | None) -> None:
    status, body = call(app, event("sign", body=raw))
    assert status == 400 and body["code"] == 400


def test_list_pages_newest_first_without_a_silent_cap(app: Any, monkeypatch:
                                                      pytest.MonkeyPatch) -> None:
    import book

    clock = iter(1_700_000_000 + i * 0.001 for i in range(1000))
    # Distinct milliseconds, so the expected order is known.
    monkeypatch.setattr(book, "time", SimpleNamespace(time=lambda: next(clock)))
    signed = [sign(app, f"message {i}")[1]["ID"] for i in range(130)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"limit": "50"} | ({"next": token} if token else {})
        status, body = listing(app, **params)
        assert status == 200
        seen += [m["ID"] for m in body["messages"]]
        pages += 1
        token = body["next"]
        if not token:
            break
    assert seen == list(reversed(signed))  # all 130, newest first, none twice
    assert pages == 3
    status, body = listing(app)
    assert len(body["messages"]) == 25 and body["messages"][0]["Message"] == "message 129"


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"},
                                    {"next": "!!!"}, {"next": "eyJhIjogMX0="}])
def test_bad_page_parameters(app: Any, params: dict[str, str]) -> None:
    status, body = listing(app, **params)
    assert status == 400 and body["field"] in ("limit", "next")


def test_unknown_route_and_method(app: Any) -> None:
    status, _ = call(app, event("list", path="/nowhere", resource="/nowhere"))
    assert status == 404


def test_ids_come_from_secrets(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import book

    picks: list[str] = []

    def choice(alphabet: str) -> str:
        picks.append(alphabet)
        return "Q"

    monkeypatch.setattr(book.secrets, "choice", choice)
    assert book.generate_id() == "Q" * 20
    assert picks == [string.ascii_uppercase] * 20


def test_id_generation_has_its_own_subsegment(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    real = app.tracer.provider.in_subsegment

    @contextlib.contextmanager
    def recording(name: str | None = None, **kw: Any) -> Iterator[Any]:
        opened.append(name or "")
        with real(name=name, **kw) as sub:
            yield sub

    monkeypatch.setattr(app.tracer.provider, "in_subsegment", recording)
    status, body = sign(app, "traced")
    assert status == 201
    # Powertools names a method's subsegment "## <module>.<function>".
    names = [n.rsplit(".", 1)[-1] for n in opened]
    assert "generate_id" in names and "sign_book" in names
    assert names.index("sign_book") < names.index("generate_id")


def test_metrics_are_emitted_as_emf(app: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sign(app, "hello metrics")
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    emf = [x for x in lines if "_aws" in x]
    assert emf and emf[-1]["MessageSigned"] == [1.0]
    assert emf[-1]["service"] == "guestbook"
