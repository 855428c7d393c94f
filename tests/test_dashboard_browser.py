"""Every dashboard page in a real headless Chromium (Debian's chromium + chromedriver, through selenium).

One lake, one waitress server and one browser for the module, so the whole file costs a few seconds
per page.  Checked per page: it renders its title with no browser console error, and at 420 px wide
nothing overflows sideways.  Then: figures equal the analytics API's to the cent, the drill-down from
site to a call, a filter change written to the URL and back, an unknown value's message, a download.
"""

from __future__ import annotations

import io
import time
import urllib.request
from pathlib import Path

import openpyxl
import pytest

from analytics.savings import summary
from dashboards.app import PAGES, create_app, make_wsgi_server
from dashboards.format import money_text
from lakefactory import KNOWN_CALLS, write_lake

from selenium import webdriver  # noqa: E402 — a test extra: missing is a failure, never a skip
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("dashb") / "lake"
    write_lake(root, KNOWN_CALLS)
    return root


@pytest.fixture(scope="module")
def server(lake):
    srv = make_wsgi_server(create_app(lake, "USD"), "127.0.0.1", 0).start()
    yield srv.url
    srv.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        pytest.fail("Debian's 'chromium' and 'chromium-driver' packages are needed (.ci/run installs them)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--window-size=1200,900",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    yield driver
    driver.quit()


def open_page(driver, url: str, title: str) -> None:
    driver.get(url)
    WebDriverWait(driver, 20).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#page-content h2"), title))
    wait_idle(driver)


def wait_idle(driver, timeout: float = 20) -> None:
    """Until Dash has no callback in flight (its loading markers gone) and plotly drew what it had."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        busy = driver.execute_script("return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length")
        if not busy:
            time.sleep(0.3)
            return
        time.sleep(0.1)


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def narrow(driver, width: int | None) -> None:
    if width is None:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    else:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": True})


@pytest.mark.parametrize("page", PAGES, ids=[p.SLUG for p in PAGES])
def test_page_renders_without_console_errors_and_fits_420px(browser, server, page):
    narrow(browser, 420)
    try:
        open_page(browser, f"{server}{page.PATH}?month=2026-10", page.NAME)
        assert not console_errors(browser)
        width, client = browser.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width <= client, f"{page.PATH}: {width}px wide in a {client}px window"
        assert browser.find_elements(By.ID, "downloads") or page.SLUG == "live"
    finally:
        narrow(browser, None)


def test_overview_figures_equal_the_analytics_api(browser, server, lake):
    open_page(browser, f"{server}/?month=2026-10", "Overview")
    s = summary(lake, "2026-10")
    cards = {c.find_element(By.CLASS_NAME, "card-label").text.lower(): c.find_element(By.CLASS_NAME, "card-value").text
             for c in browser.find_elements(By.CSS_SELECTOR, "#overview-cards .card")}
    assert cards["actual cost"] == money_text(s.actual_cost, "USD") == "USD 14.82"
    assert cards["reference cost"] == money_text(s.reference_cost, "USD")
    assert cards["savings"] == money_text(s.savings, "USD") == "USD 16.12"
    assert cards["calls"] == "10"
    assert browser.find_elements(By.CSS_SELECTOR, f"#{'overview-site-chart'} .main-svg")  # plotly drew
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text: [td.text for td in r.find_elements(By.TAG_NAME, "td")]
            for r in browser.find_elements(By.CSS_SELECTOR, "#table-by_site tbody tr")}
    assert rows["SHA"][5] == f"{s.by_site.loc['SHA', 'savings']:.2f}" == "7.67"


def test_drill_from_site_to_a_call_is_recorded_in_the_url(browser, server):
    open_page(browser, f"{server}/sites?month=2026-10", "Sites")
    for link, expect in (("NYC", "site=NYC"), ("Sales", "department=Sales"), ("1001", "extension=1001")):
        browser.find_element(By.LINK_TEXT, link).click()
        WebDriverWait(browser, 20).until(EC.url_contains(expect))
        wait_idle(browser)
    WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "table-calls")))
    calls = browser.find_element(By.ID, "table-calls").text
    assert "c1" in calls and "c5" in calls and "c2" not in calls
    assert not console_errors(browser)


def test_a_filter_change_goes_to_the_url_and_back(browser, server):
    open_page(browser, f"{server}/?month=2026-10", "Overview")
    site = browser.find_element(By.CSS_SELECTOR, "#filters .flt-dd[id*='site']")
    site.click()
    WebDriverWait(browser, 10).until(EC.element_to_be_clickable((By.XPATH, "//span[text()='NYC']"))).click()
    WebDriverWait(browser, 20).until(EC.url_contains("site=NYC"))
    rerendered = (StaleElementReferenceException,)  # the cards are replaced while read: read them again
    WebDriverWait(browser, 20, ignored_exceptions=rerendered).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#overview-cards .card-value").text == "5")
    browser.back()
    WebDriverWait(browser, 20).until(lambda d: "site=" not in d.current_url)
    WebDriverWait(browser, 20, ignored_exceptions=rerendered).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#overview-cards .card-value").text == "10")
    assert not console_errors(browser)


def test_an_unknown_value_shows_a_message(browser, server):
    open_page(browser, f"{server}/carriers?month=2026-10&site=NCY", "Carriers")
    message = browser.find_element(By.ID, "messages").text
    assert "NCY" in message and "LON" in message  # names the bad value and what would be valid
    assert browser.find_element(By.ID, "empty-state").is_displayed()
    assert not browser.find_elements(By.ID, "table-by_carrier")


def test_the_download_of_what_is_on_screen(browser, server, lake):
    open_page(browser, f"{server}/?month=2026-10&site=NYC", "Overview")
    href = browser.find_element(By.ID, "download-xlsx").get_attribute("href")
    assert "site=NYC" in href and "month=2026-10" in href
    with urllib.request.urlopen(href, timeout=20) as resp:
        book = openpyxl.load_workbook(io.BytesIO(resp.read()))
    rows = list(book["by_site"].iter_rows(values_only=True))
    on_screen = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#table-by_site tbody tr")[0]
                 .find_elements(By.TAG_NAME, "td")]
    assert rows[1][0] == on_screen[0] == "NYC" and f"{rows[1][5]:.2f}" == on_screen[5] == "3.50"


def test_a_bar_click_drills_down(browser, server):
    open_page(browser, f"{server}/sites?month=2026-10&site=LON", "Sites")
    bars = browser.find_elements(By.CSS_SELECTOR, "#sites-drill-chart .point path")
    assert bars, "plotly drew no bars"
    ActionChains(browser).move_to_element(bars[0]).click().perform()
    WebDriverWait(browser, 20).until(EC.url_contains("department="))
    assert "site=LON" in browser.current_url
    WebDriverWait(browser, 20).until(EC.presence_of_element_located((By.ID, "table-by_extension")))


def test_live_shows_a_new_call_without_a_reload(browser, server, lake):
    """The collector stores a call while the page is open: the next refresh shows it (the cache key moved)."""
    from lakefactory import call

    open_page(browser, f"{server}/live", "Live")
    assert "2026-11-02 10:00:00" not in browser.find_element(By.ID, "live-body").text
    write_lake(lake, [call("live-1", "2026-11-02T10:00:00", "LON", "globex", "Finance", "2001", "outbound",
                           "national", 42, "0.21", "0.50")])
    WebDriverWait(browser, 30).until(lambda d: "2026-11-02 10:00:00" in d.find_element(By.ID, "live-body").text)
    assert not console_errors(browser)
