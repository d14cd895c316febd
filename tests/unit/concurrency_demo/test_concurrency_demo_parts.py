"""concurrency_demo: the handler's input, the reservation commands (moto's Lambda API) and the
load test's bookkeeping (planned sleeps, percentiles, status counts) without a cloud."""

from __future__ import annotations

import io
import json
import random
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws


class Ctx:
    function_name = "sleep"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:sleep"
    aws_request_id = "req-1"


@pytest.fixture(scope="module")
def sleep_app(load_module: Any) -> Iterator[Any]:
    from common import observability

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POWERTOOLS_SERVICE_NAME", "concurrency_demo")
        mp.setenv("POWERTOOLS_METRICS_NAMESPACE", "ServerlessCollection")
        observability.reset()
        yield load_module("functions/concurrency_demo/sleep/app.py",
                          "concurrency_demo_sleep_app")
    observability.reset()


@pytest.fixture(scope="module")
def commands(load_module: Any) -> Any:
    return load_module("functions/concurrency_demo/concurrency.py", "concurrency_demo_cmds")


@pytest.fixture(scope="module")
def loadtest(load_module: Any) -> Any:
    return load_module("functions/concurrency_demo/loadtest.py", "concurrency_demo_loadtest")


@pytest.mark.parametrize(("query", "expected"), [({"seconds": "2"}, 2), ({"seconds": "5"}, 5)])
def test_requested_sleep(sleep_app: Any, query: dict[str, str], expected: int) -> None:
    assert sleep_app.sleep_seconds(query) == expected


def test_random_sleep_covers_2_to_5(sleep_app: Any) -> None:
    rng = random.Random(1)
    assert {sleep_app.sleep_seconds(None, rng) for _ in range(200)} == {2, 3, 4, 5}


@pytest.mark.parametrize("raw", ["1", "6", "-3", "2.5", "two", ""])
def test_bad_sleep_is_a_400(sleep_app: Any, raw: str) -> None:
    out = sleep_app.handler({"queryStringParameters": {"seconds": raw},
                             "requestContext": {"requestId": "r-1"}}, Ctx())
    body = json.loads(out["body"])
    assert out["statusCode"] == 400 and body["field"] == "seconds" and body["request-id"] == "r-1"


def test_handler_sleeps_and_says_so(sleep_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(sleep_app.time, "sleep", slept.append)
    out = sleep_app.handler({"queryStringParameters": {"seconds": "3"}}, Ctx())
    assert slept == [3] and out["statusCode"] == 200
    assert json.loads(out["body"]) == {"message": "Hello world, slept 3 seconds", "slept": 3}
    assert out["headers"]["Access-Control-Allow-Methods"] == "GET,OPTIONS"


@pytest.fixture
def lam() -> Iterator[Any]:
    with mock_aws():
        iam = boto3.client("iam")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr("app.py", "def handler(e, c):\n    return e\n")
        client = boto3.client("lambda")
        client.create_function(FunctionName="sleep", Runtime="python3.11", Role=role,
                               Handler="app.handler", Code={"ZipFile": buf.getvalue()})
        yield client


def test_set_show_kill_clear(commands: Any, lam: Any) -> None:
    assert commands.show(lam, "sleep")["reservedConcurrentExecutions"] is None
    shown = commands.set_reservation(lam, "sleep", 25)
    assert shown["reservedConcurrentExecutions"] == 25 and "25 guaranteed" in shown["state"]
    killed = commands.set_reservation(lam, "sleep", 0)
    assert killed["reservedConcurrentExecutions"] == 0 and "kill switch" in killed["state"]
    assert commands.clear(lam, "sleep")["reservedConcurrentExecutions"] is None
    with pytest.raises(ValueError):
        commands.set_reservation(lam, "sleep", -1)


def test_cli_prints_the_reservation(commands: Any, lam: Any,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert commands.main(["set", "7", "--function", "sleep", "--region", "us-east-1"]) == 0
    assert json.loads(capsys.readouterr().out)["reservedConcurrentExecutions"] == 7
    commands.main(["kill", "--function", "sleep", "--region", "us-east-1"])
    assert json.loads(capsys.readouterr().out)["reservedConcurrentExecutions"] == 0


def test_the_plan_is_reproducible(loadtest: Any) -> None:
    plan = loadtest.planned_sleeps(5000, 2017)
    assert plan == loadtest.planned_sleeps(5000, 2017) != loadtest.planned_sleeps(5000, 1)
    assert set(plan) == {2, 3, 4, 5} and len(plan) == 5000


def test_load_sends_every_planned_request_once(loadtest: Any) -> None:
    asked: list[str] = []

    def fake_get(url: str) -> int:
        asked.append(url)
        return 429 if url.endswith("=5") else 200

    summary = loadtest.run_load("http://x/", 300, 12, seed=3, get=fake_get)
    plan = loadtest.planned_sleeps(300, 3)
    assert sorted(asked) == sorted(f"http://x/sleep?seconds={s}" for s in plan)
    assert summary.statuses == Counter({429: plan.count(5), 200: 300 - plan.count(5)})
    assert summary.requests == 300


def test_percentiles_and_report(loadtest: Any) -> None:
    s = loadtest.Summary(label="t", wall_s=10.0, latencies_s=[i / 100 for i in range(1, 101)],
                         statuses=Counter({200: 60, 429: 40}))
    assert s.percentile(50) == 0.5 and s.percentile(99) == 0.99 and s.percentile(10) == 0.1
    text = s.text()
    assert "50% in 0.5000 secs" in text and "[429] 40 responses" in text
    assert "Requests/sec:\t10.0000" in text


def test_ci_flag_scales_down(loadtest: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(loadtest, "run_local",
                        lambda n, c, r, seed: seen.update(n=n, c=c, r=r, seed=seed))
    loadtest.main(["--local", "--ci"])
    assert seen == {"n": 40, "c": 10, "r": 3, "seed": 2017}
    loadtest.main(["--local"])
    assert seen == {"n": 5000, "c": 50, "r": 25, "seed": 2017}
