"""The Chinese report and dashboard in a real headless Chromium: every character drawn by a font that has it.

"Missing glyphs" (tofu) are characters the browser draws with a font that has no glyph for them.  Chromium
says which platform fonts rendered a node's text and how many glyphs each drew (DevTools
``CSS.getPlatformFontsForNode``): for every text node with Chinese characters, the fonts used must be
CJK fonts (``fonts-noto-cjk``, installed by ``.ci/run``) and account for every character.  And as a
picture: a known Chinese string must not render like characters no font has (U+E000–E007 of the
private-use area — the notdef box); screenshots of both pages are written for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from analytics.reporting import run_report
from dashboards.app import create_app, make_wsgi_server
from lakefactory import write_lake
from reportkit import report_calls, write_enterprise
from test_dashboard_browser import browser  # noqa: F401 — the shared Chromium fixture
from warehouse.config import load_config

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef\u3000-\u303f]")

#: Text nodes with CJK characters, as (a selector path of their element, their text): the fonts are asked per element.
_TEXT_ELEMENTS = """
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
let n, i = 0;
while ((n = walker.nextNode())) {
  if (/[\\u3400-\\u9fff]/.test(n.textContent) && n.parentElement) {
    n.parentElement.setAttribute('data-cjk', String(i++));
  }
}
return i;
"""

#: Pixels of a string drawn in the page's font, as a data URL (a canvas): the same for two strings only
#: if they render alike.
_DRAW = """
const [text, font] = arguments;
const c = document.createElement('canvas'); c.width = 400; c.height = 60;
const g = c.getContext('2d'); g.fillStyle = '#fff'; g.fillRect(0, 0, 400, 60);
g.fillStyle = '#000'; g.font = font; g.fillText(text, 4, 40);
return c.toDataURL();
"""


def _fonts_used(driver) -> tuple[int, list[tuple[str, list[dict]]]]:
    """(CJK characters seen, [(text, fonts Chromium used for it)]) for every element holding Chinese text."""
    count = driver.execute_script(_TEXT_ELEMENTS)
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    found = []
    chars = 0
    for i in range(count):
        node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": f'[data-cjk="{i}"]'})["nodeId"]
        if not node:
            continue
        fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        text = driver.execute_script(f'return document.querySelector(\'[data-cjk="{i}"]\').textContent')
        chars += len(CJK.findall(text))
        found.append((text, fonts))
    return chars, found


def assert_no_missing_glyphs(driver, where: str) -> None:
    chars, found = _fonts_used(driver)
    assert chars >= 20, (where, chars)  # the page is in Chinese
    for text, fonts in found:
        cjk_glyphs = sum(f["glyphCount"] for f in fonts if "CJK" in f["familyName"])
        assert cjk_glyphs >= len(CJK.findall(text)), (where, text, fonts)  # every Chinese character from a CJK font
    font = driver.execute_script("return getComputedStyle(document.body).font")
    known = driver.execute_script(_DRAW, "月度节省 合计", font)
    notdef = driver.execute_script(_DRAW, "\ue000\ue001\ue002\ue003 \ue004\ue005", font)
    blank = driver.execute_script(_DRAW, "", font)
    assert known != notdef and known != blank, where  # drawn as glyphs, not as the missing-glyph box


@pytest.fixture(scope="module")
def enterprise(tmp_path_factory):
    root = tmp_path_factory.mktemp("zh-browser")
    write_lake(root / "lake", report_calls(800, seed=12))
    return root, load_config(write_enterprise(root))


def test_the_chinese_report_page_has_no_missing_glyphs(enterprise, browser, tmp_path):  # noqa: F811
    root, ent = enterprise
    [page] = run_report("monthly-savings", root / "lake", "2026-10", ["html"], tmp_path, "USD", config=ent,
                        lang="zh_CN")
    browser.get(page.as_uri())
    WebDriverWait(browser, 20).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "月度节省"))
    assert_no_missing_glyphs(browser, "report")
    browser.save_screenshot(str(tmp_path / "report-zh_CN.png"))
    assert (tmp_path / "report-zh_CN.png").stat().st_size > 10_000


def test_the_chinese_dashboard_page_has_no_missing_glyphs(enterprise, browser, tmp_path):  # noqa: F811
    root, ent = enterprise
    srv = make_wsgi_server(create_app(root / "lake", "USD", ent), "127.0.0.1", 0).start()
    try:
        browser.get(f"{srv.url}/?month=2026-10&lang=zh_CN")
        WebDriverWait(browser, 30).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#page-content h2"),
                                                                          "概览"))
        WebDriverWait(browser, 30).until(EC.text_to_be_present_in_element((By.ID, "nav"), "站点"))
        assert_no_missing_glyphs(browser, "dashboard")
        browser.save_screenshot(str(tmp_path / "dashboard-zh_CN.png"))
        assert browser.get_cookie("callcost_lang")["value"] == "zh_CN"
    finally:
        srv.shutdown()
