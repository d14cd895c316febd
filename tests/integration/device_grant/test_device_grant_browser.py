"""The device flow in a real headless browser (Debian's chromium through chromedriver, as
url_shortener's browser test): a device requests codes, the browser opens /device, enters the
code, signs in at the Cognito hosted UI (localcloud's) and approves; the device's poll then
gets tokens. A second request is denied from the same browser session (the hosted UI's cookie
signs the user in without the form), and an expired code is refused on the page."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from localcloud.cloud import LocalCloud

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("device_grant_demo_browser",
                                                  ROOT / "functions/device_grant/demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


demo = _load_demo()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def env():
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"device_grant"})
        cloud.start_api()
        cloud.start_delivery()
        out = cloud.outputs()["device_grant"]
        idp = cloud.client("cognito-idp")
        demo.create_user(idp, out["UserPoolId"])
        yield cloud, out, demo.client_credentials(idp, out)
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="device-grant-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _enter_code(browser, url: str, code: str | None, button: str) -> None:
    browser.get(url)
    assert browser.title == "Device authorization"
    if code is not None:
        field = browser.find_element(By.ID, "user_code")
        field.clear()
        field.send_keys(code)
    browser.find_element(By.ID, button).click()


def _outcome(browser) -> str:
    return WebDriverWait(browser, 20).until(ec.visibility_of_element_located(
        (By.ID, "outcome"))).text


def _tokens_after_interval(out, auth, device_code: str, interval: int):
    time.sleep(interval)  # the device waits the interval the codes came with
    return demo.poll(out, auth, device_code)


def test_sign_in_and_approve_then_the_device_gets_tokens(browser, env) -> None:
    _, out, auth = env
    codes = demo.request_codes(out, auth).json()
    assert demo.poll(out, auth, codes["device_code"]).json() == {
        "error": "authorization_pending"}
    # the user types the code as people do: lower case, with a dash
    typed = codes["user_code"][:4].lower() + "-" + codes["user_code"][4:]
    _enter_code(browser, codes["verification_uri"], typed, "authorize")
    WebDriverWait(browser, 20).until(ec.title_is("Sign in"))
    assert "/_localcloud/cognito/" in browser.current_url
    assert "code_challenge_method=S256" in browser.current_url
    browser.find_element(By.ID, "signInFormUsername").send_keys(demo.USERNAME)
    browser.find_element(By.ID, "signInFormPassword").send_keys("not-the-password")
    browser.find_element(By.ID, "signInSubmitButton").click()
    error = WebDriverWait(browser, 20).until(ec.visibility_of_element_located(
        (By.ID, "loginErrorMessage")))
    assert error.text == "Incorrect username or password."
    browser.find_element(By.ID, "signInFormPassword").send_keys(demo.PASSWORD)
    browser.find_element(By.ID, "signInSubmitButton").click()
    assert _outcome(browser) == "Device authorised"
    assert browser.current_url.startswith(f"{out['ApiUrl']}/callback?code=")
    resp = _tokens_after_interval(out, auth, codes["device_code"], codes["interval"])
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    claims = demo.jwks_verify(out["HostedUiUrl"], tokens["access_token"])
    assert claims["username"] == demo.USERNAME and claims["token_use"] == "access"
    # reloading the callback (a replayed authorization code and state) decides nothing
    browser.refresh()
    assert _outcome(browser) == "Not authorised"


def test_arrive_with_the_code_and_deny(browser, env) -> None:
    _, out, auth = env
    codes = demo.request_codes(out, auth).json()
    # verification_uri_complete fills the code in; the user still confirms it
    _enter_code(browser, codes["verification_uri_complete"], None, "deny")
    # the hosted UI's session cookie from the first test: no sign-in form this time
    assert _outcome(browser) == "Request denied"
    resp = _tokens_after_interval(out, auth, codes["device_code"], 0)
    assert resp.status_code == 400 and resp.json() == {"error": "access_denied"}


def test_an_expired_code_is_refused(browser, env) -> None:
    cloud, out, auth = env
    codes = demo.request_codes(out, auth).json()
    key = "D#" + hashlib.sha256(codes["device_code"].encode()).hexdigest()
    cloud.client("dynamodb").update_item(  # time travel: the code's 30 minutes are over
        TableName=out["RequestsTableName"], Key={"pk": {"S": key}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})
    _enter_code(browser, codes["verification_uri"], codes["user_code"], "authorize")
    error = WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "error")))
    assert error.text == "This code has expired. Ask the device for a new one."
    resp = demo.poll(out, auth, codes["device_code"])
    assert resp.status_code == 400 and resp.json() == {"error": "expired_token"}
