"""survival_api end to end: the stack deployed on localcloud, requests over HTTP to its API.

The function is an image function; localcloud runs it from the folders its Dockerfile copies
into the task root, with the system R. Numbers are compared with a separate Rscript.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events" / "survival_api"
CLI = [sys.executable, "-m", "localcloud.cli"]


def _load(stem: str) -> Any:
    name = f"survival_api_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / "survival_api"
                                                      / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


cohorts = _load("cohorts")
png_check = _load("png_check")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: Any, *, raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    data = raw if raw is not None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(aws_port=0, api_port=_free_port(), quiet=True,
                    log=lambda *_: None) as cloud:
        cloud.deploy(apps={"survival_api"})
        cloud.start_api()
        yield cloud


@pytest.fixture(scope="module")
def url(cloud: LocalCloud) -> str:
    base = cloud.outputs()["survival_api"]["ApiUrl"]
    assert base.startswith("http://127.0.0.1:") and base.endswith("/survival_api")
    return f"{base}/survival"


def test_the_function_runs_from_the_dockerfile_task_root(cloud: LocalCloud) -> None:
    spec = cloud.find_function("survival_api/SurvivalFunction")
    assert spec.code_dir == ROOT / "functions" / "survival_api" / "survival"
    assert spec.layers == [ROOT / "layers" / "common"]
    assert (spec.handler, spec.memory_mb, spec.timeout) == ("app.handler", 1769, 29.0)


def test_statistics_over_http_equal_rscript(url: str) -> None:
    cohort = cohorts.synthetic_cohort(99, 480, 20, effects=(0.6, 0.0, -0.4))
    status, headers, raw = post(url, cohort.body())
    assert status == 200, raw
    assert headers["Content-Type"] == "application/json"
    body = json.loads(raw)
    got = [(s["hazard"], s["pval"]) for s in body["statistics_list"]]
    assert got == cohorts.rscript_statistics(cohort.times, cohort.events, cohort.rows)
    assert body["failed_rows"] == []
    assert got[0][0] > 1 and got[2][0] < 1 and got[0][1] < 1e-6


def test_concurrent_requests_are_served_by_separate_workers(url: str) -> None:
    cohort = cohorts.synthetic_cohort(5, 100, 5)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: post(url, cohort.body()), range(4)))
    bodies = {raw for status, _, raw in results if status == 200}
    assert len(bodies) == 1 and len(results) == 4  # all succeeded, all the same numbers


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"times": [1, 2, 3], "events": [1, 0], "values_by_record": [[1, 2, 3]]},
         "events has 2 entries but times has 3"),
        ({"times": [1, 2, 3], "events": [1, 0, 1], "values_by_record": [[1, "2", 3]]},
         "values_by_record[0][1] must be a number, got a string"),
        ({"times": [1, 2, 3], "events": [1, 0, -1], "values_by_record": [[1, 2, 3]]},
         "events[2] must be 0 (censored) or 1 (event), got -1"),
        ({"times": [1, 2, 3], "events": [0, 0, 0], "values_by_record": [[1, 2, 3]]},
         "events has no event (all 0)"),
        ({"times": [1, 2, 3], "events": [1, 0, 1], "values_by_record": [[]]},
         "values_by_record[0] is empty but times has 3"),
        ({"times": [1, 2, 3], "events": [1, 0, 1], "values_by_record": []},
         "Field 'values_by_record' must have at least one row"),
    ],
)
def test_bad_input_is_400_with_a_json_error(url: str, body: dict, message: str) -> None:
    status, headers, raw = post(url, body)
    error = json.loads(raw)
    assert status == 400
    assert error["code"] == 400
    assert error["message"].startswith(message)
    assert error["request-id"]  # API Gateway's request id, for the caller's support ticket


def test_nan_and_malformed_json_are_400(url: str) -> None:
    text = b'{"times": [1, 2, 3], "events": [1, 0, 1], "values_by_record": [[1, NaN, 3]]}'
    status, _, raw = post(url, None, raw=text)
    assert (status, json.loads(raw)["message"]) == (
        400, "values_by_record[0][1] must be a finite number, got nan")
    status, _, raw = post(url, None, raw=b'{"times": [1, 2')
    assert (status, json.loads(raw)["message"]) == (400, "Request body is not valid JSON")


def test_over_the_limits_is_413_saying_the_limit(url: str) -> None:
    status, _, raw = post(url, {"times": [1, 2], "events": [1, 0],
                                "values_by_record": [[1, 2]] * 101})
    assert status == 413
    assert json.loads(raw)["message"].startswith("Too many rows: 101; the limit is 100")
    n = 2001
    status, _, raw = post(url, {"times": list(range(n)), "events": [1] * n,
                                "values_by_record": [list(range(n))]})
    assert status == 413
    assert json.loads(raw)["message"] == (
        "Too many samples: 2001; the limit is 2000 per request")


def test_a_row_r_cannot_fit_does_not_sink_the_others(url: str) -> None:
    cohort = cohorts.synthetic_cohort(8, 60, 2)
    rows = [cohort.rows[0], [1.5] * 60, cohort.rows[1]]
    status, _, raw = post(url, {**cohort.body(), "values_by_record": rows})
    body = json.loads(raw)
    assert status == 200 and body["failed_rows"] == [1]
    stats = body["statistics_list"]
    assert stats[1]["hazard"] is None and stats[1]["error"].startswith("row 1: ")
    expected = cohorts.rscript_statistics(cohort.times, cohort.events, cohort.rows)
    assert [(s["hazard"], s["pval"]) for s in (stats[0], stats[2])] == expected


def test_plot_over_http_is_a_png_drawn_by_r(url: str) -> None:
    cohort = cohorts.synthetic_cohort(77, 150, 1, effects=(0.9,))
    status, headers, png = post(f"{url}/plot", {"times": cohort.times, "events": cohort.events,
                                                "values": cohort.rows[0], "width": 500,
                                                "height": 400})
    assert status == 200, png[:300]
    assert headers["Content-Type"] == "image/png"
    image = png_check.decode(png)
    assert (image.width, image.height) == (500, 400)
    assert image.count(png_check.LOW_COLOUR) > 50 and image.count(png_check.HIGH_COLOUR) > 50
    reference = cohorts.rscript_logrank(cohort.times, cohort.events, cohort.rows[0])
    assert float(headers["X-Logrank-Pvalue"]) == reference["pval"]
    assert headers["X-Group-Sizes"] == "low={},high={}".format(*reference["sizes"])


@pytest.mark.slow
def test_cli_invoke_with_the_sample_event() -> None:
    out = subprocess.run(CLI + ["invoke", "survival_api/SurvivalFunction", "--event",
                                str(EVENTS / "statistics.json")],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    response = json.loads(out.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["failed_rows"] == [2]
    assert '"message":"R ready"' in out.stderr


@pytest.mark.slow
def test_demo_passes() -> None:
    out = subprocess.run(CLI + ["demo", "survival_api"], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[survival_api] PASSED" in out.stdout
