"""The coach dashboard in a real headless Chromium, against a real `tend serve`: sign in,
see a consenting couple, see its charts, on a phone-sized and a desktop-sized screen, and
see a couple disappear once a partner revokes consent.

Needs Debian's chromium and chromium-driver; CI installs them (.ci/run) and fails if they
are missing, elsewhere the test is skipped with that reason."""

import os
import shutil
from pathlib import Path

import httpx
import pytest

from app import migrations
from tests.browser import browser_or_skip, chromium
from tests.conftest import TEST_SECRET, drop_database, fresh_database_url
from tests.factories import (
    code_of,
    consent,
    log_bid,
    pair_over_http,
    register,
    verify_email,
)
from tests.processes import free_port, tend_server

SCREENS = {"phone": (390, 844), "desktop": (1280, 800)}
COACH_PASSWORD = "a long coach passphrase"

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as seen  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture
def server(database, tmp_path):
    url = fresh_database_url(database.backend, tmp_path, "dashboard")
    migrations.upgrade(url)
    try:
        with tend_server(url, TEST_SECRET, TEND_SCHEDULER="off") as base:
            yield base, url
    finally:
        drop_database(url)


def _coach_with_a_couple(base: str, url: str) -> tuple[str, str, dict[str, str]]:
    """A coach, and Alex & Sam who both consent and logged a few moments."""
    with httpx.Client(base_url=base, timeout=10) as client:
        email = f"coach-{free_port()}@example.com"
        coach = register(
            client,
            email=email,
            password=COACH_PASSWORD,
            display_name="Robin",
            role="coach",
            timezone="UTC",
        )
        verify_email(client, email, url)  # partners consent only to a verified coach
        alex, sam = pair_over_http(client, ("Alex", "Sam"))
        for kind, response in [("hug", "toward"), ("question", "toward"), ("smile", "away")]:
            log_bid(
                client,
                alex,
                kind=kind,
                response=response,
                note="private words",
                duration_seconds=25,
            )
        consent(client, code_of(client, coach), alex, sam)
        # A second couple whose name is a stored-XSS attempt: shown as text, never run.
        eve, mal = pair_over_http(client, ("<img src=x onerror=window.pwned=1>", "Mal"))
        consent(client, code_of(client, coach), eve, mal)
        # A practice the coach proposed and both partners accepted.
        plan = client.post(
            f"/v1/coach/couples/{client.get('/v1/couple', headers=alex.headers).json()['id']}"
            "/practices",
            json={"practice": "twenty-second-hug"},
            headers=coach.headers,
        ).json()
        for partner in (alex, sam):
            answer = client.post(
                f"/v1/couple/practices/{plan['id']}/accept", headers=partner.headers
            )
            assert answer.status_code == 200, answer.text
        return email, coach.id, alex.headers


def _driver(tmp_path: Path, size: tuple[int, int]):  # type: ignore[no-untyped-def]
    return chromium(tmp_path, size)


@pytest.mark.parametrize("screen", list(SCREENS))
def test_coach_signs_in_sees_charts_and_loses_a_revoked_couple(server, tmp_path, screen):
    server, url = server
    browser_or_skip()
    email, coach_id, alex = _coach_with_a_couple(server, url)
    driver = _driver(tmp_path, SCREENS[screen])
    wait = WebDriverWait(driver, 20)
    try:
        driver.get(f"{server}/coach")
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.ID, "password").send_keys("not the password at all")
        driver.find_element(By.ID, "signin").click()
        wait.until(seen.text_to_be_present_in_element((By.ID, "error"), "password"))
        assert "sign in again" not in driver.find_element(By.ID, "error").text
        driver.find_element(By.ID, "password").clear()
        driver.find_element(By.ID, "password").send_keys(COACH_PASSWORD)
        driver.find_element(By.ID, "signin").click()

        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".couple")))
        # The first couple is selected at once; the coach code is shown.
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, "#chart-balance path")))
        assert driver.find_element(By.ID, "code").text.startswith("Your coach code: ")
        cards = driver.find_elements(By.CSS_SELECTOR, ".couple")
        assert driver.execute_script("return window.pwned") is None
        assert "<img" in cards[0].text or "<img" in cards[1].text
        [couple] = [c for c in cards if "Alex & Sam" in c.text]
        assert not driver.find_element(By.ID, "login").is_displayed()
        # The keyboard: focus the card and press Enter.
        driver.execute_script("arguments[0].focus()", couple)
        couple.send_keys("\ue007")
        wait.until(seen.text_to_be_present_in_element((By.ID, "detail"), "Alex & Sam"))
        assert couple.get_attribute("aria-selected") == "true"
        chart = wait.until(
            seen.presence_of_element_located((By.CSS_SELECTOR, "#chart-balance path"))
        )
        assert driver.find_elements(By.CSS_SELECTOR, "#chart-toward line.ref")
        assert driver.find_elements(By.CSS_SELECTOR, "#chart-toward .mark.partial")
        detail_text = driver.find_element(By.ID, "detail").text
        assert "Twenty-second hug" in detail_text and "1 / " in detail_text, detail_text
        assert "since" in driver.find_element(By.ID, "consent").text
        assert "0.9" not in detail_text  # rates are percentages everywhere
        assert chart.get_attribute("d").startswith("M")
        assert driver.find_elements(By.CSS_SELECTOR, "#chart-bids rect")
        assert "private words" not in driver.page_source

        listing = driver.find_element(By.ID, "couples").rect
        detail = driver.find_element(By.ID, "detail").rect
        if screen == "phone":  # one column: the chart panel under the list, within the screen
            assert detail["y"] >= listing["y"] + listing["height"] - 1
            assert detail["x"] + detail["width"] <= SCREENS["phone"][0]
        else:  # side by side
            assert detail["x"] > listing["x"] + listing["width"] - 1
        driver.save_screenshot(str(tmp_path / f"coach-{screen}.png"))
        if shot_dir := os.environ.get("TEND_SCREENSHOTS"):
            shutil.copy(tmp_path / f"coach-{screen}.png", Path(shot_dir) / f"coach-{screen}.png")

        if screen == "desktop":
            # Scrolled to the practices for a second look.
            driver.execute_script("document.querySelector('.practice').scrollIntoView()")
            driver.save_screenshot(str(tmp_path / f"coach-{screen}-practices.png"))
            if shot_dir := os.environ.get("TEND_SCREENSHOTS"):
                shutil.copy(tmp_path / f"coach-{screen}-practices.png", Path(shot_dir))
        driver.find_element(By.ID, "signout").click()
        assert driver.find_element(By.ID, "email").get_attribute("value") == ""
        assert driver.find_element(By.ID, "password").get_attribute("value") == ""
        driver.find_element(By.ID, "email").send_keys(email)
        driver.find_element(By.ID, "password").send_keys(COACH_PASSWORD)
        driver.find_element(By.ID, "signin").click()
        wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, ".couple")))

        revoked = httpx.delete(f"{server}/v1/couple/coaches/{coach_id}", headers=alex)
        assert revoked.status_code == 204
        driver.refresh()
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".couple")) == 1)
        assert "Alex & Sam" not in driver.find_element(By.ID, "couples").text
    finally:
        driver.quit()
