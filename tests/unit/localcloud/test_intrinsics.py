"""Intrinsic functions resolved by the deployer, as CloudFormation resolves them."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.intrinsics import NO_VALUE, ResolveError, Resolver, dependencies


def make(parameters: dict[str, Any] | None = None, conditions: dict[str, Any] | None = None,
         mappings: dict[str, Any] | None = None) -> Resolver:
    r = Resolver(parameters=parameters or {"Stage": "dev", "Names": ["a", "b"]},
                 pseudo={"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012",
                         "AWS::StackName": "local"},
                 mappings=mappings, conditions=conditions)
    r.refs["Queue"] = "https://queue/url"
    r.attrs["Queue"] = {"Arn": "arn:aws:sqs:us-east-1:123456789012:q", "QueueName": "q"}
    r.attrs["Child"] = {"Outputs.TableName": "child-table"}
    return r


def test_ref_parameter_pseudo_and_resource() -> None:
    r = make()
    assert r.resolve({"Ref": "Stage"}) == "dev"
    assert r.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert r.resolve({"Ref": "Queue"}) == "https://queue/url"
    with pytest.raises(ResolveError, match="Missing"):
        r.resolve({"Ref": "Missing"})


def test_getatt_list_and_dotted_forms_including_nested_outputs() -> None:
    r = make()
    assert r.resolve({"Fn::GetAtt": ["Queue", "Arn"]}).endswith(":q")
    assert r.resolve({"Fn::GetAtt": "Queue.QueueName"}) == "q"
    assert r.resolve({"Fn::GetAtt": ["Child", "Outputs.TableName"]}) == "child-table"
    with pytest.raises(ResolveError, match="no attribute 'Nope'"):
        r.resolve({"Fn::GetAtt": ["Queue", "Nope"]})
    with pytest.raises(ResolveError, match="Unknown"):
        r.resolve({"Fn::GetAtt": ["Unknown", "Arn"]})


def test_sub_refs_attributes_variables_and_literals() -> None:
    r = make()
    assert r.resolve({"Fn::Sub": "${AWS::StackName}-${Stage}-${Queue.QueueName}"}) == (
        "local-dev-q")
    assert r.resolve({"Fn::Sub": ["${X}/${Stage}", {"X": {"Ref": "Queue"}}]}) == (
        "https://queue/url/dev")
    # ${!Literal} is written out as ${Literal}, unresolved.
    assert r.resolve({"Fn::Sub": "${!Literal} and ${ Stage }"}) == "${Literal} and dev"
    with pytest.raises(ResolveError):
        r.resolve({"Fn::Sub": "${Unknown}"})


def test_conditions_and_if_with_no_value_removal() -> None:
    conditions = {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "DevInUsEast": {"Fn::And": [{"Condition": "IsDev"},
                                    {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}]},
        "Either": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]},
    }
    r = make(conditions=conditions)
    assert (r.condition("IsProd"), r.condition("IsDev")) == (False, True)
    assert r.condition("DevInUsEast") and r.condition("Either")
    props = {
        "Level": {"Fn::If": ["IsProd", "ERROR", "ALL"]},
        "Alarm": {"Fn::If": ["IsProd", "on", {"Ref": "AWS::NoValue"}]},
        "List": ["a", {"Fn::If": ["IsProd", "b", {"Ref": "AWS::NoValue"}]}, "c"],
    }
    assert r.resolve(props) == {"Level": "ALL", "List": ["a", "c"]}
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    with pytest.raises(ResolveError, match="unknown condition"):
        r.condition("Nope")


def test_numbers_compare_as_text_in_equals() -> None:
    r = make(parameters={"Days": "14"}, conditions={"Two": {"Fn::Equals": [{"Ref": "Days"}, 14]}})
    assert r.condition("Two") is True


def test_join_select_split_findinmap_and_friends() -> None:
    r = make(mappings={"Sizes": {"dev": {"Memory": 256}, "prod": {"Memory": 1024}}})
    assert r.resolve({"Fn::Join": [":", ["a", {"Ref": "Stage"}, "c"]]}) == "a:dev:c"
    assert r.resolve({"Fn::Select": ["1", {"Ref": "Names"}]}) == "b"
    assert r.resolve({"Fn::Split": [",", "x,y,,z"]}) == ["x", "y", "", "z"]
    assert r.resolve({"Fn::Select": [2, {"Fn::Split": ["/", "a/b/c"]}]}) == "c"
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 256
    with pytest.raises(ResolveError, match="Sizes/test/Memory"):
        r.resolve({"Fn::FindInMap": ["Sizes", "test", "Memory"]})
    assert r.resolve({"Fn::Base64": "hi"}) == "aGk="
    assert r.resolve({"Fn::Length": [1, 2, 3]}) == 3
    assert r.resolve({"Fn::ToJsonString": {"a": [1, "x"]}}) == '{"a":[1,"x"]}'
    assert r.resolve({"Fn::GetAZs": ""}) == ["us-east-1a", "us-east-1b", "us-east-1c"]
    with pytest.raises(ResolveError, match="ImportValue"):
        r.resolve({"Fn::ImportValue": "shared-vpc"})


def test_plain_maps_with_several_keys_are_not_functions() -> None:
    r = make()
    node = {"Ref": "Stage", "Other": {"Ref": "Stage"}}
    assert r.resolve(node) == {"Ref": "Stage", "Other": "dev"}


def test_dependencies_finds_refs_getatts_and_sub_names() -> None:
    fragment = {
        "A": {"Ref": "Queue"},
        "B": {"Fn::GetAtt": "Table.Arn"},
        "C": {"Fn::GetAtt": ["Topic", {"Ref": "AttrName"}]},
        "D": {"Fn::Sub": "${Bucket.Arn}/${AWS::Region}/${!NotAName}/${Var}"},
        "E": {"Fn::Sub": ["${Var}", {"Var": {"Ref": "FromVariables"}}]},
        "F": [{"Fn::If": ["Cond", {"Ref": "InIf"}, "x"]}],
    }
    assert dependencies(fragment) == {
        "Queue", "Table", "Topic", "AttrName", "Bucket", "AWS::Region", "Var", "FromVariables",
        "InIf"}
