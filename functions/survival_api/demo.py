"""The survival_api scenario for `localcloud demo`.

A synthetic breast-cancer-like cohort (480 patients, 20 genes; gene 0 raises the hazard the
way MKI67 does in the article, the other genes do nothing) goes through the API:

1. POST /survival: gene 0 must come out significant with a hazard ratio above 1, and every
   hazard and p-value must equal, bit for bit, what a separate `Rscript` prints for the same
   numbers.
2. A constant row among good rows: that row gets an error, the others are still computed.
3. Bad input gets 400 with {"code", "message", "request-id"}; too many rows gets 413.
4. POST /survival/plot: a PNG drawn by R, whose log-rank p-value equals Rscript's.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class DemoContext(Protocol):
    """What `localcloud demo` hands to a scenario."""

    outputs: dict[str, Any]

    def http(self, method: str, url: str, body: Any = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]: ...

    def step(self, message: str) -> None: ...


def _sibling(stem: str) -> Any:
    # Loaded by path: demos are loaded by path too, so functions/survival_api is not a package.
    name = f"survival_api_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def fetch_png(url: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    """POST `body` as JSON and return the raw response (ctx.http would decode the bytes)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def check_statistics(body: Any, expected: list[tuple[float | None, float | None]]) -> None:
    """The response has one entry per row and each equals R's (hazard, pval) exactly."""
    if not isinstance(body, dict) or not isinstance(body.get("statistics_list"), list):
        raise AssertionError(f"no statistics_list in the response: {str(body)[:300]}")
    stats = body["statistics_list"]
    if len(stats) != len(expected):
        raise AssertionError(f"{len(stats)} results for {len(expected)} rows")
    for index, (entry, (hazard, pval)) in enumerate(zip(stats, expected, strict=True)):
        got = (entry.get("hazard"), entry.get("pval"))
        if got != (hazard, pval):
            raise AssertionError(
                f"row {index}: API gave hazard={got[0]!r} pval={got[1]!r}, "
                f"Rscript prints hazard={hazard!r} pval={pval!r}"
            )


def run(ctx: DemoContext, *, post_png: Any = fetch_png) -> None:
    """Run the scenario; AssertionError with a clear message when a check fails."""
    cohorts = _sibling("cohorts")
    base = ctx.outputs.get("ApiUrl")
    if not base:
        raise AssertionError("stack output ApiUrl is missing")
    url = f"{base.rstrip('/')}/survival"

    cohort = cohorts.synthetic_cohort(2017, samples=480, genes=20, effects=(0.7,))
    ctx.step(f"POST {url}: 20 genes x 480 patients ({sum(cohort.events)} events)")
    status, body = ctx.http("POST", url, cohort.body())
    if status != 200:
        raise AssertionError(f"POST /survival answered {status}: {body}")
    expected = cohorts.rscript_statistics(cohort.times, cohort.events, cohort.rows)
    check_statistics(body, expected)
    first = body["statistics_list"][0]
    if not (first["hazard"] > 1 and first["pval"] < 1e-6):
        raise AssertionError(f"gene 0 should be a strong risk factor, got {first}")
    others = sorted(entry["pval"] for entry in body["statistics_list"][1:])
    ctx.step(
        f"gene 0: hazard ratio {first['hazard']:.3f}, p = {first['pval']:.2e}; the 19 null "
        f"genes: median p = {others[len(others) // 2]:.2f}; all 40 numbers equal Rscript's, "
        "bit for bit"
    )

    rows = [cohort.rows[0], [5.0] * len(cohort.times), cohort.rows[1]]
    status, body = ctx.http("POST", url, {**cohort.body(), "values_by_record": rows})
    if status != 200 or body.get("failed_rows") != [1]:
        raise AssertionError(f"a constant row should fail alone, got {status}: {body}")
    check_statistics({"statistics_list": [body["statistics_list"][i] for i in (0, 2)]},
                     [expected[0], expected[1]])
    ctx.step(f"constant row -> {body['statistics_list'][1]['error']!r}; rows 0 and 2 computed")

    bad = {**cohort.body(), "events": cohort.events[:-1]}
    status, body = ctx.http("POST", url, bad)
    if status != 400 or body.get("code") != 400 or "request-id" not in body:
        raise AssertionError(f"unequal lengths should be a 400 error body, got {status}: {body}")
    ctx.step(f"unequal lengths -> 400 {body['message']!r}")
    status, body = ctx.http("POST", url, {**cohort.body(), "values_by_record": rows * 34})
    if status != 413:
        raise AssertionError(f"102 rows should be refused with 413, got {status}: {body}")
    ctx.step(f"102 rows -> 413 {body['message']!r}")

    plot_url = f"{url}/plot"
    status, headers, png = post_png(
        plot_url, {"times": cohort.times, "events": cohort.events, "values": cohort.rows[0],
                   "title": "gene 0, split at the median"})
    if status != 200 or not png.startswith(PNG_SIGNATURE):
        raise AssertionError(f"POST /survival/plot answered {status}: {png[:200]!r}")
    reference = cohorts.rscript_logrank(cohort.times, cohort.events, cohort.rows[0])
    pval = float(headers.get("X-Logrank-Pvalue", "nan"))
    if pval != reference["pval"]:
        raise AssertionError(f"plot log-rank p {pval!r} differs from Rscript's "
                             f"{reference['pval']!r}")
    png_check = _sibling("png_check")
    image = png_check.decode(png)
    drawn = {name: image.count(colour) for name, colour in
             (("low", png_check.LOW_COLOUR), ("high", png_check.HIGH_COLOUR))}
    if min(drawn.values()) < 100:
        raise AssertionError(f"the plot lacks a curve: pixels per curve colour {drawn}")
    out_dir = Path(tempfile.gettempdir(), "survival_api_demo")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "km_gene0.png").write_bytes(png)
    ctx.step(f"Kaplan-Meier PNG ({image.width}x{image.height}, both curves drawn, "
             f"{headers.get('X-Group-Sizes')}, log-rank p = {pval:.2e}, equal to Rscript's) "
             f"saved to {out_dir / 'km_gene0.png'}")
