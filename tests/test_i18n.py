"""English and Simplified Chinese: the catalogs are complete, formats follow the locale, the language is chosen.

* The catalog: Babel extracts the messages from the source exactly as ``babel.cfg`` says
  (``docs/dev/translations.md``); every one is in the committed ``callcost.pot`` and translated, not fuzzy,
  in ``zh_CN``.  And the other way round, from what users see: every label of every report type and
  every text of every dashboard page that is written in the source is a message of the catalog.
* Formats: CLDR money symbols (USD, CNY, GBP, EUR), grouping, month names, through Babel.
* Choosing: ``callcost report --lang zh_CN``, a schedule's ``lang`` and a recipient's
  ``{ address, lang }`` (real SMTP), the dashboard's ``?lang=``, cookie and ``Accept-Language`` (real HTTP).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import urllib.request
from decimal import Decimal
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from dash.development.base_component import Component

from analytics.reporting import registered_reports, run_report
from analytics.reporting.i18n import (CALL_TYPE_LABELS, LANGS, Msg, catalog_path, from_accept_language,
                                      normalize_lang, translator)
from analytics.reporting.model import ReportError
from analytics.rating.classify import CALL_TYPES
from dashboards.app import PAGES, create_app, make_wsgi_server, route
from dashboards.i18n import request_lang
from dashboards.pages import PageContext
from lakefactory import write_lake
from reportkit import SmtpServer, report_calls, smtp_table, write_enterprise
from reports.schedule import deliver
from reports.settings import schedule_settings
from warehouse.config import load_config

REPO = Path(__file__).resolve().parents[1]
POT = REPO / "analytics" / "reporting" / "locale" / "callcost.pot"


def catalog(path: Path):
    with path.open("rb") as fh:
        return read_po(fh)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> set[str]:
    """The message ids Babel extracts from the source now (``pybabel extract -F babel.cfg``)."""
    out = tmp_path_factory.mktemp("pot") / "now.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(REPO / "babel.cfg"), "--no-location",
                                "-o", str(out), str(REPO)])
    return {m.id for m in catalog(out) if m.id}


@pytest.fixture(scope="module")
def enterprise_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("i18n")
    write_lake(root / "lake", report_calls(1_200, seed=23))
    return root, load_config(write_enterprise(root))


def test_the_committed_template_is_what_babel_extracts(extracted):
    committed = {m.id for m in catalog(POT) if m.id}
    assert extracted - committed == set(), "new messages: run the extract + update round of docs/dev/translations.md"
    assert committed - extracted == set(), "messages no longer in the source: run the extract + update round"


@pytest.mark.parametrize("lang", LANGS)
def test_every_message_is_in_each_catalog_and_translated_in_chinese(extracted, lang):
    cat = catalog(catalog_path(lang))
    ids = {m.id for m in cat if m.id}
    assert extracted - ids == set(), f"{lang}: messages missing from the catalog"
    if lang == "zh_CN":
        untranslated = sorted(m.id for m in cat if m.id and not m.string)
        fuzzy = sorted(m.id for m in cat if m.id and m.fuzzy)
        assert untranslated == [] and fuzzy == [], (untranslated, fuzzy)
        for m in cat:  # a translation keeps the fields its message fills in
            if m.id:
                assert sorted(_fields(m.id)) == sorted(_fields(m.string)), m.id


def _fields(text: str) -> list[str]:
    import string

    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def _report_labels(data) -> set[str]:
    """Every text a report type writes for people, as the message id it is built from."""
    def mid(s):
        return getattr(s, "template", s)
    out = {mid(data.title), *(mid(n) for n in data.notes), *(mid(f.label) for f in data.headline)}
    for t in data.tables.values():
        out |= {mid(t.title), *(mid(h) for _, h, _ in t.columns)}
        out |= {mid(x) for x in (t.sheet, t.chart_title) if x}
        out |= {mid(r.label) for r in t.rows if r.kind == "total"}
        out |= {mid(v) for r in t.rows for v in r.values.values() if isinstance(v, Msg)}
    for listing in data.listings.values():
        out |= {mid(listing.title), *(mid(h) for _, h, _ in listing.columns)}
    return {s for s in out if s and any(c.isalpha() for c in s)}


def test_every_label_of_every_report_type_is_in_the_catalog(enterprise_lake):
    root, ent = enterprise_lake
    ids = {m.id for m in catalog(catalog_path("zh_CN")) if m.id}
    seen = 0
    for name, cls in registered_reports().items():
        data = cls(config=ent).build(root / "lake", "2026-10", "USD")
        missing = _report_labels(data) - ids
        assert missing == set(), (name, sorted(missing))
        seen += 1
    assert seen >= 10


def _source_literals() -> set[str]:
    found = set()
    for path in (REPO / "dashboards").rglob("*.py"):
        if "api" in path.relative_to(REPO / "dashboards").parts:
            continue  # the REST API answers JSON data, not words for a reader (its examples are site ids)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _texts(node, out: set[str]) -> set[str]:
    if isinstance(node, (list, tuple)):
        for child in node:
            _texts(child, out)
    elif isinstance(node, str):
        out.add(node)
    elif isinstance(node, Component):
        for prop in ("children", "placeholder", "title"):
            value = getattr(node, prop, None)
            if value is not None:
                _texts(value, out)
        for option in getattr(node, "options", None) or []:
            if isinstance(option, dict) and isinstance(option.get("label"), str):
                out.add(option["label"])
    return out


def test_every_dashboard_text_written_in_the_source_is_in_the_catalog_and_shown_in_chinese(enterprise_lake):
    root, ent = enterprise_lake
    ctx = PageContext(lake=root / "lake", currency="USD", ent=ent)
    ids = {m.id for m in catalog(catalog_path("zh_CN")) if m.id}
    literals = _source_literals()
    zh = translator("zh_CN")
    for page in PAGES:
        english = _texts(route(page.PATH, "?month=2026-10", ctx), set())
        shown = {s for s in english if s in literals and any(c.isalpha() for c in s)}
        missing = shown - ids - set(CALL_TYPE_LABELS) - {"rated", "unrated"}
        assert missing == set(), (page.PATH, sorted(missing))
        chinese = _texts(route(page.PATH, "?month=2026-10&lang=zh_CN", ctx), set())
        assert zh.gettext(page.NAME) in chinese and page.NAME not in chinese, page.PATH
        left = {s for s in shown & chinese if zh.gettext(s) != s}
        assert left == set(), (page.PATH, sorted(left))  # nothing of the catalog left in English


def test_call_types_are_words_in_both_languages():
    assert set(CALL_TYPE_LABELS) == set(CALL_TYPES) and len(CALL_TYPES) == 7
    assert CALL_TYPE_LABELS["onnet"] == "On-net" and CALL_TYPE_LABELS["tollfree_inbound"] == "Toll-free inbound"
    zh = translator("zh_CN")
    assert zh.label("onnet") == "网内" and zh.label("tollfree_inbound") == "免费电话呼入"
    assert zh.gettext("Not priced") == "未计价" and translator("en").label("onnet") == "On-net"


def test_cldr_money_numbers_and_months():
    en, zh = translator("en"), translator("zh_CN")
    amount = Decimal("1234567.125")
    assert [en.money(amount, c) for c in ("USD", "CNY", "GBP", "EUR")] == \
        ["$1,234,567.13", "CN¥1,234,567.13", "£1,234,567.13", "€1,234,567.13"]  # half up, exact
    assert [zh.money(amount, c) for c in ("USD", "CNY", "GBP", "EUR")] == \
        ["US$1,234,567.13", "¥1,234,567.13", "£1,234,567.13", "€1,234,567.13"]
    assert en.money(Decimal("-3"), "JPY", scale=0) == "-¥3" and zh.count(1234567) == "1,234,567"
    assert (en.period("2026-10"), zh.period("2026-10")) == ("October 2026", "2026年10月")
    assert (en.month_name(3), zh.month_name(3)) == ("March", "三月")
    assert zh.text(Msg("Period {start} to {end}, by the UTC date each call started.",
                       start=__import__("datetime").date(2026, 10, 1), end=__import__("datetime").date(2026, 10, 31))) \
        == "期间 2026年10月1日 至 2026年10月31日，按每次通话开始的 UTC 日期计。"


def test_languages_are_named_loosely_and_refused_when_unknown():
    assert [normalize_lang(x) for x in ("zh-CN", "zh_Hans_CN", "zh", "en-US", None, "")] == \
        ["zh_CN", "zh_CN", "zh_CN", "en", "en", "en"]
    with pytest.raises(ReportError, match="no translation for language 'fr'.*en, zh_CN"):
        normalize_lang("fr")
    assert from_accept_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh_CN"
    assert from_accept_language("fr-FR, en-GB;q=0.7, zh;q=0.5") == "en"
    assert from_accept_language("fr-FR, zh-TW;q=0.6") == "zh_CN" and from_accept_language("") == "en"
    assert request_lang({"lang": "en"}, {"callcost_lang": "zh_CN"}, "zh-CN") == "en"
    assert request_lang({}, {"callcost_lang": "zh_CN"}, "en-US") == "zh_CN"
    assert request_lang({}, {}, "zh-CN,zh;q=0.9") == "zh_CN"


def test_cli_report_lang_writes_the_chinese_files(enterprise_lake, tmp_path):
    root, ent = enterprise_lake
    out = subprocess.run([sys.executable, "-m", "callcost", "report", "monthly-savings", "--period", "2026-10",
                          "--format", "txt,html", "--lang", "zh_CN", "--out", str(tmp_path), "--config",
                          str(ent.path)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    txt = (tmp_path / "monthly-savings-2026-10.zh_CN.txt").read_text(encoding="utf-8")
    assert txt.startswith("月度节省 — 2026年10月 (USD)") and "未计价通话" in txt and "合计" in txt
    html = (tmp_path / "monthly-savings-2026-10.zh_CN.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN">' in html and "<h1>月度节省 — 2026年10月</h1>" in html
    assert re.search(r'<div class="value">US\$[0-9,]+\.[0-9]{2}</div>', html)  # CLDR: USD read in Chinese
    bad = subprocess.run([sys.executable, "-m", "callcost", "report", "monthly-savings", "--period", "2026-10",
                          "--lang", "xx", "--out", str(tmp_path / "no"), "--config", str(ent.path)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "no translation for language 'xx'" in bad.stderr
    assert not (tmp_path / "no").exists()


SCHEDULE = """
[[schedule]]
name = "finance-monthly"
report = "monthly-savings"
cron = "0 6 1 * *"
period = "2026-10"
formats = ["xlsx", "html"]
lang = "en"
recipients = ["cfo@test.example", { address = "shanghai@test.example", lang = "zh_CN" }]
"""


def test_a_schedule_mails_each_recipient_in_their_language(tmp_path):
    with SmtpServer() as server:
        write_lake(tmp_path / "lake", report_calls(600, seed=3))
        ent = load_config(write_enterprise(tmp_path, smtp_table(server.port) + SCHEDULE))
        [s] = schedule_settings(ent)
        assert s.by_language() == {"en": ("cfo@test.example",), "zh_CN": ("shanghai@test.example",)}
        delivery = deliver(ent, s)
        assert delivery.status == "delivered"
        by_rcpt = {tuple(rcpts): msg for (_, rcpts), msg in zip(server.handler.envelopes, server.messages)}
    en, zh = by_rcpt[("cfo@test.example",)], by_rcpt[("shanghai@test.example",)]
    assert str(make_header(decode_header(en["Subject"]))) == "Test Corp: Monthly savings 2026-10"
    assert str(make_header(decode_header(zh["Subject"]))) == "Test Corp：月度节省 2026-10"
    assert "月度节省" in zh.get_body(("html",)).get_content() and "Monthly savings" in en.get_body(("html",)).get_content()
    names = {p.get_filename() for p in zh.iter_attachments()}
    assert "monthly-savings-2026-10.zh_CN.xlsx" in names and not any("zh_CN" not in n for n in names)


def test_a_schedule_with_an_unknown_language_is_a_config_error(tmp_path):
    from warehouse.errors import ConfigErrors

    write_lake(tmp_path / "lake", report_calls(50, seed=3))
    ent = load_config(write_enterprise(tmp_path, smtp_table(25) + SCHEDULE.replace('lang = "en"', 'lang = "fr"')))
    with pytest.raises(ConfigErrors, match="no translation for language 'fr'"):
        schedule_settings(ent)


def test_the_dashboard_answers_in_the_browsers_language_and_remembers_a_choice(enterprise_lake):
    root, ent = enterprise_lake
    srv = make_wsgi_server(create_app(root / "lake", "USD", ent), "127.0.0.1", 0).start()
    try:
        def layout(search: str, headers: dict[str, str]) -> tuple[str, dict]:
            import json

            body = {"output": "page-content.children", "outputs": {"id": "page-content", "property": "children"},
                    "inputs": [{"id": "url", "property": "pathname", "value": "/"},
                               {"id": "url", "property": "search", "value": search}],
                    "changedPropIds": ["url.pathname"]}
            req = urllib.request.Request(srv.url + "/_dash-update-component", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", **headers})
            with urllib.request.urlopen(req, timeout=60) as resp:
                # decoded and re-encoded: Dash escapes non-ASCII (\u6982) unless orjson is installed
                text = json.dumps(json.loads(resp.read().decode("utf-8")), ensure_ascii=False)
                return text, dict(resp.headers)

        text, _ = layout("?month=2026-10", {"Accept-Language": "zh-CN,zh;q=0.9"})
        assert "概览" in text and "各站点的节省" in text
        text, _ = layout("?month=2026-10", {"Accept-Language": "en-GB,en;q=0.9"})
        assert "Overview" in text and "概览" not in text
        text, headers = layout("?month=2026-10&lang=zh_CN", {"Accept-Language": "en-GB"})
        assert "概览" in text and "callcost_lang=zh_CN" in headers.get("Set-Cookie", "")
        text, _ = layout("?month=2026-10", {"Accept-Language": "en-GB", "Cookie": "callcost_lang=zh_CN"})
        assert "概览" in text  # the remembered choice beats the browser's default
    finally:
        srv.shutdown()


@pytest.mark.parametrize("search, english, chinese", [
    ("?month=2026-13", "is not a month", "不是月份"),
    ("?month=2026-10&site=NCY", "unknown value 'NCY'", "未知的值 'NCY'"),
    ("?month=2026-10&sitte=NYC", "unknown filter 'sitte'", "未知的筛选条件 'sitte'"),
    ("?start=2026-10-09&end=2026-10-01", "is after end", "晚于结束日期"),
])
def test_a_filter_mistake_is_told_in_the_readers_language(enterprise_lake, search, english, chinese):
    """The messages about a period or filter value the page cannot use — the dashboard's and the analytics
    layer's own — are messages of the catalog: shown in Chinese on a zh_CN page, unchanged in English."""
    root, ent = enterprise_lake
    ctx = PageContext(lake=root / "lake", currency="USD", ent=ent)
    shown_en = " ".join(_texts(route("/", search, ctx), set()))
    shown_zh = " ".join(_texts(route("/", search + "&lang=zh_CN", ctx), set()))
    assert english in shown_en and chinese not in shown_en
    assert chinese in shown_zh and english not in shown_zh


def test_a_mail_without_a_text_rendering_says_so_in_the_readers_language(tmp_path):
    """The text part of a report mail that has no ``.txt`` rendering names its attachments in the
    recipients' language (over a real SMTP server); a message with only an HTML body says so."""
    from reports.delivery import build_message, mail_files
    from reports.settings import SmtpSettings

    page, book = tmp_path / "r.html", tmp_path / "r.xlsx"
    page.write_text("<html><body>报告</body></html>", encoding="utf-8")
    book.write_bytes(b"PK\x03\x04")
    with SmtpServer() as server:
        smtp = SmtpSettings(host="127.0.0.1", port=server.port, starttls=False, retries=1, backoff_s=0.01)
        mail_files(smtp, ["cfo@example.com"], "月度节省", [page, book], lang="zh_CN")
        mail_files(smtp, ["cfo@example.com"], "Monthly", [book], lang="en")
        chinese, english = server.messages
    assert chinese.get_body(("plain",)).get_content().strip() == "附件：r.xlsx"
    assert english.get_body(("plain",)).get_content().strip() == "Attached: r.xlsx"
    html_only = build_message("a@example.com", ["b@example.com"], "s", html="<p>x</p>", lang="zh_CN")
    assert "HTML 格式" in html_only.get_body(("plain",)).get_content()
    assert "shows HTML" in build_message("a@example.com", ["b@example.com"], "s", html="<p>x</p>").get_body(
        ("plain",)).get_content()
