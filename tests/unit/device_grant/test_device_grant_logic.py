"""device_grant's plain logic: code formats, settings, client credentials, parameters, PKCE,
poll answers; and its DynamoDB items (moto): single use, slow_down, expiry, races."""

from __future__ import annotations

import base64
import string
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "functions/device_grant/device"))

import dg_logic as lg  # noqa: E402
import dg_store as st  # noqa: E402

RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_alphabets_follow_the_seed_letters() -> None:
    assert lg.alphabet("#aA") == string.digits + string.ascii_lowercase + string.ascii_uppercase
    user = lg.alphabet("#B")
    assert set(user) == set(string.digits) | (set(string.ascii_uppercase) - set("AEIOU"))
    assert len(user) == 31
    assert lg.alphabet("ab") == string.ascii_lowercase  # b is a subset of a: no duplicates
    with pytest.raises(lg.SettingsError):
        lg.alphabet("#x")


def test_codes_have_the_format_and_length_and_do_not_repeat() -> None:
    device = [lg.generate_code("#aA", 64) for _ in range(200)]
    assert all(len(c) == 64 and lg.is_valid_code(c, "#aA", 64) for c in device)
    assert len(set(device)) == 200
    users = [lg.generate_code("#B", 8) for _ in range(2000)]
    assert all(lg.is_valid_code(c, "#B", 8) for c in users)
    assert not any(v in "".join(users) for v in "AEIOU")
    # every character of the alphabet turns up (a CSPRNG, not a fixed pattern)
    assert set("".join(users)) == set(lg.alphabet("#B"))
    picked: list[str] = []
    lg.generate_code("#", 3, choice=lambda chars: picked.append(chars) or chars[0])
    assert picked == [string.digits] * 3


def test_user_codes_are_read_as_people_type_them() -> None:
    assert lg.normalise_user_code(" bcdf-12 34 ", "#B") == "BCDF1234"
    assert lg.normalise_user_code("abCD", "#aA") == "abCD"  # lower case letters are kept
    assert not lg.is_valid_code("BCDA1234", "#B", 8)  # a vowel
    assert not lg.is_valid_code("BCD1234", "#B", 8)


def test_settings_from_the_environment() -> None:
    s = lg.Settings.from_env({})
    assert (s.code_expiration, s.device_code_format, s.device_code_length,
            s.polling_interval, s.user_code_format, s.user_code_length,
            s.result_token_set) == (1800, "#aA", 64, 5, "#B", 8,
                                    ("access_token", "refresh_token"))
    s = lg.Settings.from_env({"RESULT_TOKEN_SET": "ID+ACCESS", "POLLING_INTERVAL": "2"})
    assert s.result_token_set == ("id_token", "access_token") and s.polling_interval == 2
    for bad in ({"RESULT_TOKEN_SET": "ACCESS+SECRET"}, {"POLLING_INTERVAL": "soon"},
                {"USER_CODE_FORMAT": "#Z"}, {"DEVICE_CODE_LENGTH": "8"}):
        with pytest.raises(lg.SettingsError):
            lg.Settings.from_env(bad)


def _basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


def test_basic_credentials() -> None:
    assert lg.parse_basic(_basic("client:s3cr:et")) == ("client", "s3cr:et")
    assert lg.parse_basic(_basic("cli%3Aent:a%2Bb")) == ("cli:ent", "a+b")
    assert lg.parse_basic("basic " + base64.b64encode(b"c:s").decode()) == ("c", "s")
    for bad in (None, "", "Bearer abc", "Basic !!!", _basic("no-colon"), _basic(":secret")):
        assert lg.parse_basic(bad) is None


def test_parameters_from_query_string_and_form_body() -> None:
    form = "application/x-www-form-urlencoded"
    assert lg.request_params({"client_id": "c"}, None, None) == {"client_id": "c"}
    assert lg.request_params({"client_id": "c"}, "device_code=d%2Bx&grant_type=g", form) == {
        "client_id": "c", "device_code": "d+x", "grant_type": "g"}
    assert lg.request_params({"a": "1"}, "a=1", form + "; charset=utf-8") == {"a": "1"}
    with pytest.raises(lg.BadRequest, match="more than once"):
        lg.request_params({"device_code": "x"}, "device_code=y", form)
    with pytest.raises(lg.BadRequest, match="more than once"):
        lg.request_params(None, "a=1&a=2", form)
    with pytest.raises(lg.BadRequest, match="x-www-form-urlencoded"):
        lg.request_params(None, '{"device_code": "x"}', "application/json")
    with pytest.raises(lg.BadRequest, match="cannot be parsed"):
        lg.request_params(None, "device_code", form)


def test_pkce_matches_rfc_7636_appendix_b() -> None:
    assert lg.pkce_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE
    verifier, challenge = lg.pkce_pair()
    assert 43 <= len(verifier) <= 128 and lg.pkce_challenge(verifier) == challenge


def test_token_set_selection() -> None:
    tokens = {"access_token": "A", "id_token": "I", "refresh_token": "R", "expires_in": 3600,
              "token_type": "Bearer"}
    assert lg.select_tokens(tokens, ("access_token", "refresh_token")) == {
        "access_token": "A", "refresh_token": "R", "token_type": "Bearer", "expires_in": 3600}
    assert lg.select_tokens(tokens, ("id_token",)) == {"id_token": "I", "token_type": "Bearer"}


def test_poll_answers() -> None:
    item = {"client_id": "c", "status": "PENDING", "expires_at": 1000}
    assert lg.answer_poll(item, "c", 999).error == "authorization_pending"
    assert lg.answer_poll(item, "c", 1000).error == "expired_token"
    assert lg.answer_poll(item, "other", 10).error == "invalid_grant"
    assert lg.answer_poll(None, "c", 10).error == "invalid_grant"
    assert lg.answer_poll({**item, "status": "DENIED"}, "c", 10).error == "access_denied"
    assert lg.answer_poll({**item, "status": "APPROVED"}, "c", 10) == lg.PollAnswer(None, True)
    assert lg.answer_poll({**item, "status": "DELIVERED"}, "c", 10).error == "invalid_grant"
    assert lg.next_interval(5) == 10 and lg.next_interval(299) == lg.MAX_INTERVAL_S


def test_public_base() -> None:
    assert lg.public_base({"Host": "abc.execute-api.us-east-1.amazonaws.com"}) == \
        "https://abc.execute-api.us-east-1.amazonaws.com"
    assert lg.public_base({"host": "127.0.0.1:3000", "x-forwarded-proto": "http",
                           "x-forwarded-prefix": "/device_grant"}) == \
        "http://127.0.0.1:3000/device_grant"


# --- the store ------------------------------------------------------------------------------

@pytest.fixture
def table():
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        t = ddb.create_table(TableName="dg", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk",
                                                    "AttributeType": "S"}])
        yield t


def _create(table, device="Xq7Zp2Lm", user="BCDF1234", now=1000.0, expires_in=1800):
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    st.create_request(ddb, table.name, device_hash=lg.hash_code(device),
                      user_code=user, client_id="c", scope="openid", now=now,
                      expires_in=expires_in, interval=5)
    return lg.hash_code(device)


def test_requests_and_user_codes_are_unique(table) -> None:
    h = _create(table)
    assert table.get_item(Key={"pk": f"D#{h}"})["Item"]["status"] == "PENDING"
    assert "Xq7Zp2Lm" not in str(table.scan()["Items"])  # only the device code's hash
    with pytest.raises(st.CodeTaken):
        _create(table, device="other")  # same user code, still alive
    with pytest.raises(st.CodeTaken):
        _create(table, user="GHJK5678")  # same device code
    assert len(table.scan()["Items"]) == 2
    found = st.find_by_user_code(table, "BCDF1234")
    assert found and found[0] == h and found[1]["client_id"] == "c"
    assert st.find_by_user_code(table, "ZZZZ9999") is None
    # an expired user code may be drawn again
    _create(table, device="later", now=1000.0 + 1801)
    assert st.find_by_user_code(table, "BCDF1234")[0] == lg.hash_code("later")


def test_polls_faster_than_the_interval_slow_down(table) -> None:
    h = _create(table)
    assert st.record_poll(table, h, 1000.0, 5, 10)
    assert not st.record_poll(table, h, 1004.9, 5, 10)
    item = st.get_request(table, h)
    assert item["interval"] == 10 and item["next_poll_at"] == pytest.approx(1014.9)
    assert not st.record_poll(table, h, 1010.0, 10, 15)  # before 1014.9: slow again
    assert st.record_poll(table, h, 1026.0, 15, 20)


def test_decisions_and_single_delivery(table) -> None:
    h = _create(table)
    assert st.deliver(table, h, 1001) is None  # nothing approved yet
    assert st.record_decision(table, h, approved=True, user="alice",
                              tokens={"access_token": "A", "expires_in": 3600}, now=1002)
    assert not st.record_decision(table, h, approved=False, user="bob", tokens=None, now=1003)
    assert st.deliver(table, h, 1004) == {"access_token": "A", "expires_in": 3600}
    assert st.deliver(table, h, 1005) is None
    item = st.get_request(table, h)
    assert item["status"] == "DELIVERED" and "tokens" not in item and item["decided_by"] == "alice"
    late = _create(table, device="late", user="GHJK5678", now=1000, expires_in=60)
    assert not st.record_decision(table, late, approved=True, user="a", tokens={}, now=1060)


def test_sign_in_attempts_are_taken_once(table) -> None:
    st.start_sign_in(table, state="s1", device_hash="h", verifier="v", action="deny",
                     client_id="c", now=1000)
    assert st.take_sign_in(table, "s1", 1001)["action"] == "deny"
    assert st.take_sign_in(table, "s1", 1002) is None
    st.start_sign_in(table, state="s2", device_hash="h", verifier="v", action="authorize",
                     client_id="c", now=1000)
    assert st.take_sign_in(table, "s2", 1000 + st.SIGN_IN_TTL_S) is None
