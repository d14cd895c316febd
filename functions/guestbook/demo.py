"""The guestbook scenario for `localcloud demo`.

Through the REST API (base URL from the stack outputs): sign the book (the seed's curl),
list it, sign 30 more at once, page through all of them newest first with limit=12, and send
bad input (oversized, empty, not JSON, a forged page token): 400 with a JSON body, nothing
stored. AssertionError when anything misbehaves.
"""

from __future__ import annotations

import string
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def run(ctx: Any) -> None:
    base = ctx.outputs.get("GuestbookApiUrl", "").rstrip("/")
    expect(bool(base), "stack output GuestbookApiUrl is missing")
    ddb = ctx.client("dynamodb")
    table = ctx.outputs["GuestbookTableName"]
    before = ddb.scan(TableName=table, Select="COUNT")["Count"]

    status, first = ctx.http("POST", f"{base}/sign", {"message": "Hello from cURL!"})
    expect(status == 201, f"POST /sign answered {status}: {first}")
    expect(len(first["ID"]) == 20 and set(first["ID"]) <= set(string.ascii_uppercase),
           f"bad id {first['ID']!r}")
    ctx.step(f"POST /sign -> 201 ID {first['ID']} Epoch {first['Epoch']}")

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda i: ctx.http("POST", f"{base}/sign",
                                                   {"message": f"visitor {i:02d}"}), range(30)))
    expect(all(s == 201 for s, _ in answers), f"some signs failed: {answers}")
    ids = {b["ID"] for _, b in answers} | {first["ID"]}
    expect(len(ids) == 31, "ids collided")
    ctx.step("30 visitors signed at once (10 in parallel): 31 distinct ids")

    seen: list[dict[str, Any]] = []
    url, pages = f"{base}/list?limit=12", 0
    while url:
        status, page = ctx.http("GET", url)
        expect(status == 200, f"GET /list answered {status}: {page}")
        seen += page["messages"]
        pages += 1
        url = f"{base}/list?limit=12&next={page['next']}" if page["next"] else ""
    mine = [m for m in seen if m["ID"] in ids]
    expect(len(mine) == 31 and len(seen) == before + 31, f"listed {len(seen)} messages")
    epochs = [m["Epoch"] for m in seen]
    expect(epochs == sorted(epochs, reverse=True), "not newest first")
    ctx.step(f"GET /list?limit=12 -> {pages} pages, {len(seen)} messages, newest first")

    for label, body in (("1,001 characters", {"message": "x" * 1001}),
                        ("empty message", {"message": ""}), ("no message", {"text": "hi"})):
        status, err = ctx.http("POST", f"{base}/sign", body)
        expect(status == 400 and err.get("code") == 400, f"{label}: {status} {err}")
        ctx.step(f"bad input ({label}) -> 400 {err['message']}")
    status, err = ctx.http("GET", f"{base}/list?next=Zm9yZ2Vk")
    expect(status == 400, f"forged token: {status} {err}")
    ctx.step(f"forged page token -> 400 {err['message']}")
    after = ddb.scan(TableName=table, Select="COUNT")["Count"]
    expect(after == before + 31, f"table holds {after - before} new items, expected 31")
