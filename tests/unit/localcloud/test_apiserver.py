"""API Gateway route matching and Lambda authorizer policy evaluation."""

from __future__ import annotations

import pytest

from localcloud.apiserver import _match, _policy_allows
from localcloud.deployer import ApiDefinition, ApiRoute

FN = "arn:aws:lambda:us-east-1:123456789012:function:f"


def api(*routes: tuple[str, str]) -> ApiDefinition:
    return ApiDefinition(api_id="abc", app="app", logical_id="Api", kind="rest",
                         routes=[ApiRoute(method=m, path=p, function_arn=FN) for m, p in routes])


ROUTES = api(("GET", "/items"), ("POST", "/items"), ("GET", "/items/{id}"),
             ("GET", "/items/special"), ("ANY", "/{proxy+}"), ("GET", "/files/{path+}"),
             ("DELETE", "/items/{id}/tags/{tag}"))


@pytest.mark.parametrize(("method", "path", "route", "params"), [
    ("GET", "/items", ("GET", "/items"), {}),
    ("GET", "/items/", ("GET", "/items"), {}),
    ("POST", "/items", ("POST", "/items"), {}),
    ("GET", "/items/42", ("GET", "/items/{id}"), {"id": "42"}),
    ("GET", "/items/a%20b", ("GET", "/items/{id}"), {"id": "a b"}),
    ("GET", "/items/special", ("GET", "/items/special"), {}),  # static beats {id}
    ("DELETE", "/items/1/tags/red", ("DELETE", "/items/{id}/tags/{tag}"),
     {"id": "1", "tag": "red"}),
    ("GET", "/files/a/b/c.txt", ("GET", "/files/{path+}"), {"path": "a/b/c.txt"}),
    ("PUT", "/items/42", ("ANY", "/{proxy+}"), {"proxy": "items/42"}),  # no PUT route: proxy
    ("GET", "/other/thing", ("ANY", "/{proxy+}"), {"proxy": "other/thing"}),
])
def test_match_picks_the_most_specific_route(method: str, path: str, route: tuple[str, str],
                                             params: dict[str, str]) -> None:
    found = _match(ROUTES, method, path)
    assert found is not None
    assert (found[0].method, found[0].path) == route
    assert found[1] == params


def test_no_match_without_a_catch_all() -> None:
    simple = api(("GET", "/items/{id}"))
    assert _match(simple, "GET", "/items") is None
    assert _match(simple, "GET", "/items/1/extra") is None
    assert _match(simple, "POST", "/items/1") is None


ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/test/GET/items/1"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_policy_allow_exact_and_wildcard() -> None:
    assert _policy_allows(policy({"Effect": "Allow", "Action": "execute-api:Invoke",
                                  "Resource": ARN}), ARN)
    assert _policy_allows(policy({"Effect": "Allow", "Resource": [
        "arn:aws:execute-api:us-east-1:123456789012:abc/*/GET/*"]}), ARN)
    # A single statement object instead of a list, as authorizers sometimes return.
    assert _policy_allows({"Statement": {"Effect": "Allow", "Resource": "*"}}, ARN)


def test_policy_deny_wins_and_unlisted_resources_are_denied() -> None:
    assert not _policy_allows(policy({"Effect": "Allow", "Resource": "*"},
                                     {"Effect": "Deny", "Resource": ARN}), ARN)
    assert not _policy_allows(policy({"Effect": "Allow", "Resource": [
        "arn:aws:execute-api:us-east-1:123456789012:abc/*/POST/*"]}), ARN)
    assert not _policy_allows(policy({"Effect": "Deny", "Resource": "*"}), ARN)
    assert not _policy_allows({}, ARN)
