"""A manager reaches nothing outside their scope: every registered page, drill-down and download, tried over HTTP.

The pages are asked for through Dash's own callback route (``/_dash-update-component``, what the browser
posts), signed in as the manager; every download route of every page is fetched.  KNOWN_CALLS has NYC
and LON calls: a NYC manager must see NYC figures (so the test can fail by showing nothing) and no LON
one — no LON site, PBX, extension (2001–2003), department (Finance) or total (1.95 / 6.90).
"""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
import requests

from dashboards.app import PAGES
from dashboards.auth.ratelimit import RateLimiter
from dashboards.auth.scoping import refusals
from dashboards.auth.serving import dashboard_server
from dashboards.filters import Scope
from dashboards.pages import page_data, view_of
from test_login_http import route_payload, sign_in
from test_users import PASSWORD, write_enterprise
from warehouse.config import load_config
from warehouse.users import UserStore

MONTHS = ("2026-10", "2026-11")
#: What only LON's calls hold, per manager (a department manager's site list shows the config's LON).
LEAKS = {
    "ann": re.compile(r"LON|lon-pbx|\b200[123]\b|Finance|\b1\.95\b|\b6\.90\b"),
    "dee": re.compile(r"lon-pbx|\b200[123]\b|Finance|\b1\.95\b|\b6\.90\b"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    ent = load_config(write_enterprise(tmp_path_factory.mktemp("scoping")))
    with UserStore(ent.storage.database) as store:
        store.add("ann", "manager", PASSWORD, sites=["NYC"])
        store.add("dee", "manager", PASSWORD, departments=["Sales", "Support"])
        store.add("al", "analyst", PASSWORD)
    srv = dashboard_server(ent.storage.lake, "USD", "127.0.0.1", 0, database=ent.storage.database, ent=ent,
                           limiter=RateLimiter(per_user=50, per_address=500)).start()
    yield srv
    srv.shutdown()


def session_of(server, name: str) -> requests.Session:
    s, resp = sign_in(server.url, name)
    assert resp.status_code == 303
    s.headers["Origin"] = server.url
    return s


def page_text(s: requests.Session, server, path: str, search: str) -> str:
    resp = s.post(f"{server.url}/_dash-update-component", json=route_payload(path, search))
    assert resp.status_code == 200, (path, search, resp.text[:200])
    return resp.text


def tables_of(server, slug: str, month: str) -> list[str]:
    """The downloadable tables of a page as a manager sees it (a scoped carriers page has no what-if)."""
    ctx, scope = server.app._callcost_ctx, Scope(sites=frozenset({"NYC"}))
    page = next(p for p in PAGES if p.SLUG == slug)
    view = view_of(ctx, page, {"month": month}, scope)
    return list(page_data(ctx, page, view, scope).tables) if view.ok else []


def xlsx_text(body: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    return "\n".join(" ".join("" if v is None else str(v) for v in row)
                     for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))


@pytest.mark.parametrize("name", ["ann", "dee"])
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.SLUG)
def test_no_page_or_drill_down_shows_anything_outside_the_scope(server, name, page):
    s = session_of(server, name)
    for month in MONTHS:
        for search in (f"?month={month}", f"?month={month}&extension=2001", f"?month={month}&carrier=globex",
                       f"?month={month}&call_type=outbound"):
            text = page_text(s, server, page.PATH, search)
            text = re.sub(r"(?i)extension[ =]2001|'2001'", "", text)  # the URL's own value, echoed back
            leak = LEAKS[name].search(text)
            assert leak is None, f"{page.PATH}{search} shows {text[max(0, leak.start() - 80):leak.end() + 20]!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.SLUG)
def test_a_url_outside_the_scope_is_refused_on_the_page(server, page):
    s = session_of(server, "ann")
    for search in ("?month=2026-10&site=LON", "?month=2026-10&site=NYC,LON"):
        text = page_text(s, server, page.PATH, search)
        assert "outside what you may see" in text, (page.PATH, search)
        assert LEAKS["ann"].sub("", text.replace("site=LON", "").replace("NYC,LON", "")).count("1.95") == 0
    dee = session_of(server, "dee")
    assert "outside what you may see" in page_text(dee, server, page.PATH, "?month=2026-10&department=Finance")


def test_a_manager_sees_their_own_figures_and_an_analyst_everything(server):
    ann = page_text(session_of(server, "ann"), server, "/", "?month=2026-10")
    assert "0.53" in ann and "4.03" in ann  # NYC's October actual and reference cost
    al = page_text(session_of(server, "al"), server, "/sites", "?month=2026-10")
    assert "LON" in al and "1.95" in al and "0.53" in al


@pytest.mark.parametrize("name", ["ann", "dee"])
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.SLUG)
def test_no_download_holds_anything_outside_the_scope(server, name, page):
    s = session_of(server, name)
    for month in MONTHS:
        xlsx = s.get(f"{server.url}/download/{page.SLUG}.xlsx?month={month}")
        if xlsx.status_code == 400:  # a page with nothing to compute for the month says so, and sends nothing
            continue
        assert xlsx.status_code == 200, (page.SLUG, month, xlsx.text[:200])
        assert LEAKS[name].search(xlsx_text(xlsx.content)) is None, (page.SLUG, month)
        for table in tables_of(server, page.SLUG, month):
            for extra in ("", "&extension=2001"):
                csv = s.get(f"{server.url}/download/{page.SLUG}/{table}.csv?month={month}{extra}")
                # another site's extension is refused by name, within the scope ("none of the calls you may see")
                assert csv.status_code == (400 if extra else 200), (page.SLUG, table, csv.text[:200])
                leak = LEAKS[name].search(re.sub(r"(?i)extension[ =]2001|'2001'", "", csv.text))
                assert leak is None, f"{page.SLUG}/{table}.csv?month={month}{extra}: {csv.text[:300]!r}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.SLUG)
def test_a_download_outside_the_scope_is_403(server, page):
    s = session_of(server, "ann")
    tables = tables_of(server, page.SLUG, "2026-10")
    for query in ("month=2026-10&site=LON", "month=2026-10&site=NYC,LON", "site=LON"):
        for url in (f"/download/{page.SLUG}.xlsx?{query}", *[f"/download/{page.SLUG}/{t}.csv?{query}" for t in tables]):
            resp = s.get(server.url + url)
            assert resp.status_code == 403 and "site 'LON' is outside what you may see" in resp.text, url
    dee = session_of(server, "dee")
    assert dee.get(f"{server.url}/download/{page.SLUG}.xlsx?month=2026-10&department=Finance").status_code == 403


def test_refusals_name_every_value_outside(server):
    scope = Scope(sites=frozenset({"NYC"}), departments=frozenset({"Sales"}))
    assert refusals({"site": "NYC", "department": "Sales"}, scope) == []
    assert refusals({"site": "NYC, LON", "department": "Ops"}, scope) == [
        "site 'LON' is outside what you may see (NYC)", "department 'Ops' is outside what you may see (Sales)"]
    assert refusals({"site": "LON"}, None) == []
