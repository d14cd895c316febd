from __future__ import annotations

import json

import boto3
import pytest
from dm_etl import DatasetError, identifier_of, read_dataset, snake
from dm_populate import PopulateStats, mapping_from_items, unify
from moto import mock_aws


def test_cleaning_and_identifiers(dm_demo) -> None:
    data, identifiers = dm_demo.dataset(15)
    cleaned = read_dataset(data)
    assert cleaned.identifiers == identifiers
    assert cleaned.rows == 15 + 3 + 3  # duplicates at 0, 5, 10; no-SKU rows at 0, 7, 14
    assert (cleaned.duplicates, cleaned.dropped_no_sku) == (3, 3)
    first = cleaned.items[0]
    assert first == {"item_id": "PX-1000", "attributes": {
        "sku": "px 1000", "manufacturer": "Acme Corp", "product_name": "Gadget 0"}}
    assert cleaned.items[2]["attributes"]["manufacturer"] == "Initech Ltd"
    assert identifier_of("  ab 12/x ") == "AB-12-X" and snake(" Product Name ") == "product_name"


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"name,price\nx,1\n", "no sku column"),
    (b"sku\n\xff\n", "not UTF-8"),
])
def test_unreadable_datasets(data, message) -> None:
    with pytest.raises(DatasetError, match=message):
        read_dataset(data)


def test_unify_by_priority_and_unmapped() -> None:
    mapping = mapping_from_items([
        {"source": "a", "name": "Colour", "unified": "color"},
        {"source": "b", "name": "Color", "unified": "color"},
        {"source": "b", "name": "Size", "unified": "size"},
        {"source": "b", "name": "ignored", "unified": ""},
    ])
    responses = [
        {"source": "b", "status": "found", "properties": {"Color": "Red", "Size": "L",
                                                          "Extra": 1, "ignored": 2}},
        {"source": "a", "status": "found", "properties": {"Colour": "red", "Note": None}},
        {"source": "c", "status": "missing", "properties": {}},
    ]
    unified = unify(responses, mapping, {"a": 1, "b": 2})
    assert unified.properties == {"color": "red", "size": "L"}  # a outranks b
    assert unified.property_sources == {"color": "a", "size": "b"}
    assert unified.statuses == {"a": "found", "b": "found", "c": "missing"}
    assert unified.unmapped == {"a": ["Note"], "b": ["Extra", "ignored"]}
    # an empty value does not hide a lower-priority source's value
    unified = unify([{"source": "a", "properties": {"Colour": ""}},
                     {"source": "b", "properties": {"Color": "Blue"}}], mapping, {"a": 1, "b": 2})
    assert unified.properties == {"color": "Blue"}
    stats = PopulateStats()
    stats.add(unified, ["a", "b"])
    assert stats.as_dict()["sources"] == {"a": {"missing": 1}, "b": {"missing": 1}}


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        for bucket in ("data-mining-local", "responses"):
            s3.create_bucket(Bucket=bucket)
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        items = ddb.create_table(
            TableName="items", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "item_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "item_id", "AttributeType": "S"}])
        yield {"s3": s3, "items": items}


def test_run_etl_stores_items_and_identifiers_in_s3(dm_app, dm_demo, aws) -> None:
    data, identifiers = dm_demo.dataset(40)
    aws["s3"].put_object(Bucket="data-mining-local", Key="uploads/p.csv", Body=data)
    out = dm_app.run_etl({"run_id": "r1", "bucket": "data-mining-local", "key": "uploads/p.csv"},
                         s3=aws["s3"], items_table=aws["items"], data_bucket="data-mining-local",
                         max_concurrency=4)
    assert out["items"] == 40 and out["max_concurrency"] == 4
    assert out["identifiers"] == {"bucket": "data-mining-local",
                                  "key": "runs/r1/identifiers.json"}
    stored = json.loads(aws["s3"].get_object(Bucket="data-mining-local",
                                             Key="runs/r1/identifiers.json")["Body"].read())
    assert stored == identifiers
    item = aws["items"].get_item(Key={"item_id": "PX-1003"})["Item"]
    assert item["attributes"]["product_name"] == "Gadget 3" and item["run_id"] == "r1"
    with pytest.raises(dm_app.StepInputError):
        dm_app.run_etl({"bucket": "b"}, s3=aws["s3"], items_table=aws["items"],
                       data_bucket="d", max_concurrency=1)


def test_populate_writes_unified_properties(dm_app, dm_demo, aws) -> None:
    from dm_sources import build_sources

    sources = build_sources(dm_demo.source_items("http://h"))
    aws["items"].put_item(Item={"item_id": "A", "attributes": {"sku": "a"}})
    aws["items"].put_item(Item={"item_id": "B", "attributes": {"sku": "b"}})
    put = aws["s3"].put_object
    put(Bucket="responses", Key="specs_api/A.json", Body=json.dumps(
        {"source": "specs_api", "status": "found", "properties": {"Colour": "red",
                                                                   "Weight (g)": 12.5}}))
    put(Bucket="responses", Key="catalog_page/A.json", Body=json.dumps(
        {"source": "catalog_page", "status": "found", "properties": {"Color": "Red",
                                                                      "Warranty": "2 years"}}))
    put(Bucket="responses", Key="flaky_api/B.json", Body=json.dumps(
        {"source": "flaky_api", "status": "error", "properties": {}}))
    mapping = mapping_from_items(dm_demo.mapping_items())
    stats = dm_app.populate(["A", "B"], s3=aws["s3"], responses_bucket="responses",
                            items_table=aws["items"], mapping=mapping, sources=sources)
    a = aws["items"].get_item(Key={"item_id": "A"})["Item"]
    assert a["properties"] == {"color": "red", "weight_g": pytest.approx(12.5)}
    assert a["property_sources"] == {"color": "specs_api", "weight_g": "specs_api"}
    assert a["attributes"] == {"sku": "a"}  # the ETL's fields stay
    b = aws["items"].get_item(Key={"item_id": "B"})["Item"]
    assert b["properties"] == {} and b["source_statuses"]["flaky_api"] == "error"
    assert b["source_statuses"]["specs_api"] == "missing"
    assert stats["items_with_properties"] == 1 and stats["properties_written"] == 2
    assert stats["unmapped"] == {"catalog_page": {"Warranty": 1}}
    assert stats["sources"]["specs_api"] == {"found": 1, "missing": 1}
