"""Filter, clean, summarise and scan, against the generator's planted truth."""

from __future__ import annotations

import io
import json
import statistics
from pathlib import Path
from typing import Any

import pytest
from edge_processing import Rules, UnreadableFile, decoded_lines, normalise, output_keys, process

from localcloud import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def rules() -> Rules:
    """The stack's default rules, as deployed."""
    params = cfn_yaml.load(ROOT / "stacks" / "edge_ingest.yaml")["Parameters"]
    return Rules.from_dict(json.loads(params["IngestRules"]["Default"]))


@pytest.fixture(scope="module")
def demo(load_module: Any) -> Any:
    return load_module("functions/edge_ingest/demo.py", "edge_ingest_demo_unit")


def run(text: str, rules: Rules) -> tuple[Any, list[str]]:
    sink = io.StringIO()
    report = process(decoded_lines([text.encode()]), sink, rules)
    return report, sink.getvalue().splitlines()


def test_planted_problems_are_rejected_and_alerts_found(rules: Rules, demo: Any) -> None:
    f = demo.sensor_file(3000, seed=4)
    report, lines = run(f.text, rules)
    assert report.rows_out == len(f.accepted) == len(lines) - 1
    assert report.rejected == f.rejected
    assert report.duplicates == f.duplicates > 0
    assert [r.split(",") for r in lines[1:]] == f.accepted
    hot = report.findings["temperature_c > 90"]
    assert hot.count == len(f.hot_rows) > 0
    assert [e["row"] for e in hot.examples] == f.hot_rows[:5]
    fault = report.findings["status reports a fault"]
    assert fault.count == len(f.fault_rows) > 0
    assert "vibration_mm_s > 25" not in report.findings


def test_statistics_match_the_statistics_module(rules: Rules, demo: Any) -> None:
    f = demo.sensor_file(1500, seed=9)
    report, _ = run(f.text, rules)
    for index, column in ((2, "temperature_c"), (3, "pressure_kpa"), (4, "vibration_mm_s")):
        values = f.column(index)
        got = report.summary()["statistics"][column]
        assert got["count"] == len(values)
        assert got["min"] == min(values) and got["max"] == max(values)
        assert got["mean"] == pytest.approx(statistics.fmean(values), abs=1e-6)
        assert got["stddev"] == pytest.approx(statistics.stdev(values), abs=1e-6)


def test_a_clean_file_has_no_findings(rules: Rules, demo: Any) -> None:
    report, _ = run(demo.sensor_file(500, seed=2, problems=False).text, rules)
    assert report.findings == {} and report.rejected == {}


def test_too_many_rejected_rows_is_itself_a_problem(rules: Rules) -> None:
    text = "device_id,timestamp,temperature_c,pressure_kpa,vibration_mm_s,status\n"
    text += "d1,t1,20,100,1,ok\n" + "d2,t2,hot,100,1,ok\n" * 3
    report, _ = run(text, rules)
    problem = report.findings["rejected rows above 20%"]
    assert problem.kind == "problem" and problem.count == 3


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty file"),
    (b"device_id,timestamp\nd1,t1\n", "missing columns: pressure_kpa, temperature_c"),
    (b"a,a\n1,2\n", "repeated"),
    (b"device_id,\xff\xfe\n", "not UTF-8"),
])
def test_unreadable_files(rules: Rules, body: bytes, reason: str) -> None:
    with pytest.raises(UnreadableFile, match=reason):
        process(decoded_lines([body]), io.StringIO(), rules)


def test_lines_split_across_chunks_and_multibyte_characters() -> None:
    data = "\ufeffa,b\né,ü\nx,y".encode()
    chunks = [data[i:i + 1] for i in range(len(data))]  # one byte at a time
    assert list(decoded_lines(chunks)) == ["a,b\n", "é,ü\n", "x,y"]


def test_rules_are_checked() -> None:
    with pytest.raises(ValueError, match="above"):
        Rules.from_dict({"thresholds": [{"column": "t"}]})
    with pytest.raises(ValueError, match="bad rule"):
        Rules.from_dict({"patterns": [{"column": "s", "regex": "("}]})
    assert normalise(" Temperature (C) ") == "temperature_c"


def test_outputs_sit_side_by_side_under_processed() -> None:
    assert output_keys("incoming/a/b.CSV", "incoming/", "processed/") == (
        "processed/a/b.csv", "processed/a/b.summary.json")
