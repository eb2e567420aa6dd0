"""The docs page (/docs, Swagger UI) talks to this server only (issue 12, item 16).

Swagger UI's default validatorUrl sends the spec's address to an outside
validator service and shows its badge, except on localhost and 127.0.0.1. So
the browser test opens the page under a made-up host name that Chromium maps to
127.0.0.1 (--host-resolver-rules; every other name is made unresolvable, so
nothing leaves the machine even when something tries), records every request
the page makes (scripts, styles, fonts, images, the spec, any badge), waits
until Swagger UI has rendered every operation, and checks that each request
went to that origin and each answer came from 127.0.0.1:<port>.

Browser: Debian's chromium and chromium-driver (`.ci/run` installs them when
missing), driven by selenium. Without them the browser test is skipped with one
line outside CI and fails in CI (CI=true).
"""
import json
import os
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from conftest import LiveServer, needs

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Not localhost or 127.0.0.1: Swagger UI skips its validator for those two, and so would hide the fault.
HOST = "wsserver-docs.test"


# --- without a browser: the page's own configuration ---------------------------------------------------


def swagger_ui_config(html):
    match = re.search(r"var user_config = (\{.*?\});", html)
    assert match, html
    return json.loads(match.group(1))


def test_docs_page_turns_swagger_uis_validator_off(client):
    response = client.get("/docs/", headers={"Host": f"{HOST}:8080"})
    assert response.status_code == 200
    config = swagger_ui_config(response.get_data(as_text=True))
    assert "validatorUrl" in config and config["validatorUrl"] is None  # JS null: no validator, no badge
    assert config["url"] == "/openapi.json"


def test_docs_page_loads_its_assets_from_this_server_only(client):
    html = client.get("/docs/").get_data(as_text=True)
    for address in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert address.startswith("/docs/"), address


# --- in a real headless Chromium -----------------------------------------------------------------------


def require_browser():
    """Skip (one line) outside CI when the browser is missing; fail in CI."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -r requirements-dev.txt)")
    needs(missing, f"BROWSER TEST NOT RUN: {', '.join(missing)} missing "
                   f"(apt-get install -y chromium chromium-driver; .ci/run does it)")


@pytest.fixture
def chromium(tmp_path):
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage", "--no-default-browser-check",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--host-resolver-rules=MAP {HOST} 127.0.0.1, MAP * ~NOTFOUND",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # the DevTools Network events
    service = Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path):
    live = LiveServer(str(tmp_path / "instance"))
    try:
        yield live
    finally:
        live.stop()


def network_events(driver):
    """(requests, responses): every URL the page asked for, every (url, remote address, port) that answered."""
    asked, answered = [], []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        method, params = message["method"], message.get("params", {})
        if method == "Network.requestWillBeSent":
            asked.append(params["request"]["url"])
        elif method == "Network.webSocketCreated":
            asked.append(params["url"])
        elif method == "Network.responseReceived":
            response = params["response"]
            answered.append((response["url"], response.get("remoteIPAddress"), response.get("remotePort")))
    return asked, answered


def operation_count(spec):
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sum(1 for item in spec["paths"].values() for method in item if method in methods)


def wait_until_quiet(driver, timeout=10, quiet=0.5):
    """Until every image has finished (loaded or failed) and no new resource has started for `quiet` s."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = driver.execute_script(
            "return [performance.getEntriesByType('resource').length,"
            " Array.from(document.images).every(function (image) { return image.complete; })]"
        )
        if state != last:
            last, since = state, time.monotonic()
        elif state[1] and time.monotonic() - since >= quiet:
            return
        time.sleep(0.1)


@pytest.mark.sqlite_only("the docs page and its document are the same on either engine")
def test_docs_page_in_a_real_browser_makes_no_request_to_any_other_host(chromium, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    operations = operation_count(requests.get(f"{server.url}/openapi.json", timeout=10).json())
    origin = f"http://{HOST}:{server.port}"
    chromium.get("about:blank")
    network_events(chromium)  # drop what the browser did before: its own start page is not ours

    chromium.get(f"{origin}/docs/")
    WebDriverWait(chromium, 30).until(
        lambda driver: len(driver.find_elements(By.CSS_SELECTOR, ".opblock")) >= operations
    )
    rendered = len(chromium.find_elements(By.CSS_SELECTOR, ".opblock"))
    wait_until_quiet(chromium)
    asked, answered = network_events(chromium)

    assert rendered == operations
    assert not chromium.find_elements(By.CSS_SELECTOR, "a[href*='validator']")  # no validator badge or link
    # the recording saw the page's own requests (so an empty list of strangers means something)
    paths = {urlsplit(url).path for url in asked}
    assert {"/docs/", "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/openapi.json"} <= paths, asked
    network = [url for url in asked if urlsplit(url).scheme not in ("data", "blob")]
    strangers = [url for url in network if f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" != origin]
    assert strangers == [], f"the docs page asked other hosts: {strangers}"
    for url, address, port in answered:
        if urlsplit(url).scheme in ("data", "blob"):
            continue
        assert (address, port) == ("127.0.0.1", server.port), (url, address, port)
