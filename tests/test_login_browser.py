"""Sign-in in a real headless Chromium: sign in, sign out, a wrong password refused, a session's end honoured."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from dashboards.auth.ratelimit import RateLimiter
from dashboards.auth.serving import dashboard_server
from test_dashboard_browser import browser  # noqa: F401 — the shared Chromium fixture
from test_users import PASSWORD, write_enterprise
from warehouse.config import load_config
from warehouse.users import UserStore

from selenium.webdriver.common.by import By  # noqa: E402 — a test extra: missing is a failure, never a skip
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

LIFETIME_S = 6


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ent = load_config(write_enterprise(tmp_path_factory.mktemp("login-browser")))
    with UserStore(ent.storage.database) as store:
        store.add("ann", "manager", PASSWORD, sites=["NYC"])
    srv = dashboard_server(ent.storage.lake, "USD", "127.0.0.1", 0, database=ent.storage.database, ent=ent,
                           lifetime=timedelta(seconds=LIFETIME_S), limiter=RateLimiter(per_user=50)).start()
    yield srv
    srv.shutdown()


def fill_login(driver, name: str, password: str) -> None:
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.ID, "login-form")))
    driver.find_element(By.ID, "username").clear()
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()


def wait_page(driver, title: str) -> None:
    WebDriverWait(driver, 20).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#page-content h2"), title))


def test_sign_in_wrong_password_sign_out_and_expiry(server, browser):  # noqa: F811
    driver = browser
    driver.delete_all_cookies()
    driver.get(f"{server.url}/sites?month=2026-10")
    assert "/login" in driver.current_url  # nothing without signing in

    fill_login(driver, "ann", "not the password")
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.ID, "login-error")))
    assert "Wrong user name or password" in driver.find_element(By.ID, "login-error").text
    assert driver.get_cookie("callcost_session") is None

    fill_login(driver, "ann", PASSWORD)
    wait_page(driver, "Sites")  # back where the link pointed
    assert driver.current_url.endswith("/sites?month=2026-10")
    assert "ann (manager: NYC)" in driver.find_element(By.ID, "user-bar").text
    cookie = driver.get_cookie("callcost_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert driver.execute_script("return document.cookie").find("callcost_session") == -1  # not readable by script

    driver.find_element(By.ID, "logout-link").click()
    WebDriverWait(driver, 20).until(EC.element_to_be_clickable((By.ID, "logout-submit"))).click()
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.ID, "login-form")))
    driver.get(f"{server.url}/")
    assert "/login" in driver.current_url  # signed out: the app is closed again

    fill_login(driver, "ann", PASSWORD)
    wait_page(driver, "Overview")
    signed_in = time.monotonic()
    time.sleep(max(0.0, LIFETIME_S + 1 - (time.monotonic() - signed_in)))
    driver.get(f"{server.url}/carriers")
    WebDriverWait(driver, 20).until(EC.presence_of_element_located((By.ID, "login-form")))
    assert "/login?next=%2Fcarriers" in driver.current_url  # the session ended after its lifetime
