from __future__ import annotations

import io
import re

import pyarrow.parquet as pq
import pytest
from dq_expectations import compile_rules
from dq_gate import Unparseable, judge, normalise_column


def _opener(data: bytes):
    return lambda: io.BytesIO(data)


def _judge(tmp_path, data: bytes, items, chunk_rows=1000):
    accepted, rejected = tmp_path / "a.parquet", tmp_path / "r.parquet"
    result = judge(_opener(data), compile_rules(items), accepted, rejected, chunk_rows)
    return result, pq.read_table(accepted).to_pandas(), pq.read_table(rejected).to_pandas()


def test_sample_dataset_exact_counts_across_chunks(tmp_path, dq_demo) -> None:
    data, expected = dq_demo.sample_csv(3000, seed=5)
    result, accepted, rejected = _judge(tmp_path, data, dq_demo.seed_rules(), chunk_rows=700)
    assert result.chunks == 5
    assert {c.rule.column: c.unexpected for c in result.counts} == expected.per_rule
    assert (result.rows, result.accepted, result.rejected) == (3000, expected.accepted,
                                                               expected.rejected)
    assert list(accepted.columns) == dq_demo.COLUMNS  # accepted rows carry no comments
    assert list(rejected.columns) == [*dq_demo.COLUMNS, "comments"]
    assert len(accepted) == expected.accepted and len(rejected) == expected.rejected
    # each rejected row names exactly the rules it broke, in the rules' order (checked here
    # with plain Python, not the gate's code)
    def broken(row) -> list[str]:
        msgs = []
        if not isinstance(row["organization"], str):
            msgs.append(dq_demo.MSG["organization"])
        job_types = (".*Full.*Time", ".*Part.*Time", ".*Contract.*")
        if isinstance(row["job_type"], str) and not any(re.search(p, row["job_type"])
                                                        for p in job_types):
            msgs.append(dq_demo.MSG["job_type"])
        if isinstance(row["uniq_id"], str) and re.search(r"\s", row["uniq_id"]):
            msgs.append(dq_demo.MSG["uniq_id"])
        if isinstance(row["location"], str) and not 3 <= len(row["location"]) <= 50:
            msgs.append(dq_demo.MSG["location"])
        return msgs

    assert [c.rule.column for c in result.counts] == ["organization", "job_type", "uniq_id",
                                                      "location"]
    assert rejected["comments"].str.split("; ").tolist() == [
        broken(row) for row in rejected.to_dict("records")]
    assert not any(broken(row) for row in accepted.to_dict("records"))
    assert (rejected["comments"].str.count("; ") > 0).any()  # some rows broke two rules
    # line breaks and quotes inside a value survive the trip
    assert accepted["job_description"].str.contains('"great team", flexible hours,\nremote').all()
    assert (accepted["country_code"] == "NA").any()  # Namibia, not a null


def test_uniqueness_sees_the_whole_file(tmp_path) -> None:
    rows = ["id,name"] + [f"{i},n{i}" for i in range(10)] + ["3,again", "", "9,once more", ","]
    data = ("\n".join(rows) + "\n").encode()
    items = [{"id": "d-id", "column_name": "id", "rules": [
        {"name": "expect_column_values_to_be_unique", "reject_msg": "REJECT:dup"}]}]
    result, accepted, rejected = _judge(tmp_path, data, items, chunk_rows=4)
    # both 3s and both 9s, though they sit in different chunks; the empty id is not judged
    assert sorted(rejected["id"]) == ["3", "3", "9", "9"]
    assert result.counts[0].unexpected == 4
    assert len(accepted) == 8 + 1  # ids 0-9 but 3 and 9, plus the row with no id
    report = result.rules_report()[0]
    assert report["unexpected_percent"] == pytest.approx(100 * 4 / 13)
    assert report["success"] is False


def test_header_names_are_normalised(tmp_path) -> None:
    assert normalise_column(" Job Title ") == "job_title"
    assert normalise_column("2nd-choice") == "c_2nd_choice"
    data = b"Job Title,Organization\nEngineer,Acme\nNurse,\n"
    items = [{"id": "d-o", "column_name": "organization", "rules": [
        {"name": "expect_column_values_to_not_be_null"}]}]
    result, accepted, rejected = _judge(tmp_path, data, items)
    assert result.columns == ["job_title", "organization"]
    assert accepted.to_dict("records") == [{"job_title": "Engineer", "organization": "Acme"}]


@pytest.mark.parametrize("data, column, reason", [
    (b"", "a", "empty"),
    (b"a,b\n1,2\n1,2,3\n", "a", "Expected 2 fields in line 3, saw 3"),
    (b"a,b\n1,2\n" * 3000 + b"1,2,3\n", "a", "Expected 2 fields in line 6001, saw 3"),
    (b"a,b\n\xff\xfe,1\n", "a", "not UTF-8"),
    (b"a,b\n1,2\n", "organization",
     "column(s) organization named by the rules are not in the header (a, b)"),
    (b"Org,org\n1,2\n", "org", "same name once normalised"),
])
def test_unparseable_files(tmp_path, data, column, reason) -> None:
    items = [{"id": "d-o", "column_name": column,
              "rules": [{"name": "expect_column_values_to_not_be_null"}]}]
    with pytest.raises(Unparseable, match=re.escape(reason)):
        _judge(tmp_path, data, items)


def test_mostly_sets_the_report_success_not_the_rows(tmp_path) -> None:
    data = b"org,x\n" + b"a,1\n" * 9 + b",1\n"
    items = [{"id": "d-o", "column_name": "org", "rules": [
        {"name": "expect_column_values_to_not_be_null", "kwargs": {"mostly": 0.8}}]}]
    result, accepted, rejected = _judge(tmp_path, data, items)
    assert (len(accepted), len(rejected)) == (9, 1)
    assert result.rules_report()[0]["success"] is True
