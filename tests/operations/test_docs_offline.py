"""/docs and /redoc render in a real headless Chromium that cannot reach the internet: the
browser resolves no name but 127.0.0.1, so a page that still loaded Swagger UI or ReDoc
from a CDN would stay blank and the test would fail.

Needs Debian's chromium and chromium-driver, as tests/test_dashboard.py does."""

import os
import shutil
from pathlib import Path

import pytest

from app import migrations
from tests.browser import browser_or_skip, chromium
from tests.conftest import TEST_SECRET
from tests.processes import tend_server

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('docs') / 'docs.db'}"
    migrations.upgrade(url)
    with tend_server(url, TEST_SECRET, TEND_SCHEDULER="off") as base:
        yield base


def _offline_driver(tmp_path: Path):  # type: ignore[no-untyped-def]
    # Nothing but 127.0.0.1 resolves: the internet is out of reach.
    rules = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    return chromium(tmp_path, (1280, 900), rules)


def _screenshot(driver, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    driver.save_screenshot(str(tmp_path / name))
    if shot_dir := os.environ.get("TEND_SCREENSHOTS"):
        shutil.copy(tmp_path / name, Path(shot_dir) / name)


def test_swagger_ui_renders_every_operation_offline(server, tmp_path):
    browser_or_skip()
    driver = _offline_driver(tmp_path)
    try:
        driver.get(f"{server}/docs")
        wait = WebDriverWait(driver, 30)
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 40)
        paths = {e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert {"/v1/bids", "/v1/auth/register", "/v1/coach/couples"} <= paths
        assert "Tend API" in driver.find_element(By.CSS_SELECTOR, ".info .title").text
        _screenshot(driver, tmp_path, "docs-swagger.png")
    finally:
        driver.quit()


def test_redoc_renders_offline(server, tmp_path):
    browser_or_skip()
    driver = _offline_driver(tmp_path)
    try:
        driver.get(f"{server}/redoc")
        wait = WebDriverWait(driver, 30)
        wait.until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-section-id^='operation/']")) > 40
        )
        assert "Register a device for push" in driver.page_source
        _screenshot(driver, tmp_path, "docs-redoc.png")
    finally:
        driver.quit()
