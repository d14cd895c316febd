"""url_shortener's admin page in a real headless browser (Debian's chromium, driven through
chromedriver by selenium): shorten a URL, follow the short link to the target page; a bad URL
shows the API's reason on the page."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import tempfile
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
# The machine's network is closed: nothing that phones home, a profile of its own.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _load_demo() -> Any:
    spec = importlib.util.spec_from_file_location("url_shortener_demo_browser",
                                                  ROOT / "functions/url_shortener/demo.py")
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
def api_url():
    cloud = LocalCloud(aws_port=0, api_port=_free_port(), quiet=True, log=lambda *_: None)
    cloud.start()
    try:
        cloud.deploy(apps={"url_shortener"})
        cloud.start_api()
        cloud.start_delivery()
        yield cloud.outputs()["url_shortener"]["ApiUrl"]
    finally:
        cloud.stop()


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="url-shortener-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    # An explicit driver: Selenium Manager (which would try to download one) is not used.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site():
    with demo.target_site() as base:
        yield base


def _shorten_in_page(browser, api_url: str, url: str) -> None:
    browser.get(f"{api_url}/admin")
    assert browser.title == "Private URL shortener - admin"
    field = browser.find_element(By.ID, "url")
    field.clear()
    field.send_keys(url)
    browser.find_element(By.ID, "shorten").click()


def test_shorten_in_the_admin_page_and_follow_the_link(browser, api_url, site) -> None:
    long_url = f"{site}/reports/q3.pdf?token=abc123"
    _shorten_in_page(browser, api_url, long_url)
    link = WebDriverWait(browser, 20).until(ec.visibility_of_element_located(
        (By.ID, "short-link")))
    short_url = link.get_attribute("href")
    assert short_url.startswith(f"{api_url}/") and len(short_url) == len(api_url) + 8
    assert link.text == short_url
    assert browser.find_element(By.ID, "expires").text == "7"
    link.click()
    WebDriverWait(browser, 20).until(ec.title_is(demo.TARGET_TITLE))
    assert browser.current_url == long_url
    assert browser.find_element(By.ID, "path").text == "/reports/q3.pdf?token=abc123"


def test_a_bad_url_shows_the_reason(browser, api_url) -> None:
    _shorten_in_page(browser, api_url, "ftp://files.example.com/x")
    error = WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "error")))
    assert error.text == "url scheme must be http or https, not 'ftp'"
    assert not browser.find_element(By.ID, "result").is_displayed()
    # A link back to the shortener itself is refused too.
    _shorten_in_page(browser, api_url, f"{api_url}/AbCdEf1")
    WebDriverWait(browser, 20).until(ec.text_to_be_present_in_element(
        (By.ID, "error"), "points to this shortener"))
