"""The dashboard without a browser: page data equals the analytics layer, filters, cache, downloads, format."""

from __future__ import annotations

import csv
import io
import time
import urllib.error
import urllib.request
from decimal import Decimal

import openpyxl
import pytest

from analytics.breakdowns import savings_by, top_destinations, top_talkers
from analytics.savings import summary
from analytics.selection import select
from dashboards.app import PAGES, create_app, make_wsgi_server, new_search, route
from dashboards.cache import lake_version
from dashboards.filters import Scope, resolve
from dashboards.format import amount_text, money_text, pct_text
from dashboards.pages import PageContext, carriers, destinations, extensions, overview, page_data, sites, view_of
from dashboards.tables import csv_bytes
from lakefactory import KNOWN_CALLS, KNOWN_OCTOBER, write_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash") / "lake"
    write_lake(root, KNOWN_CALLS)
    return root


@pytest.fixture(scope="module")
def ctx(lake):
    return PageContext(lake, "USD")


def texts(component) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in texts(c)]
    children = getattr(component, "children", None)
    return texts(children) if children is not None else []


def test_money_text_is_exact_and_never_float():
    assert money_text(Decimal("1234.5"), "USD") == "USD 1,234.50"
    assert money_text(Decimal("0.005"), "USD") == "USD 0.01"  # half up, as the rating engine rounds
    assert money_text(None, "USD") == "—"
    assert amount_text(Decimal("12345678901234567.89")) == "12,345,678,901,234,567.89"  # beyond float precision
    assert pct_text(Decimal("12.25")) == "12.3 %"
    with pytest.raises(TypeError):
        money_text(0.1, "USD")


def test_overview_data_equals_the_analytics_figures(ctx, lake):
    view = view_of(ctx, overview, {"month": "2026-10"})
    data = overview.data(ctx, view)
    s = summary(lake, "2026-10")
    total = data.values["total"]
    assert (total["calls"], total["actual_cost"], total["reference_cost"], total["savings"]) == \
        (s.calls, s.actual_cost, s.reference_cost, s.savings) == (10, Decimal("14.82"), Decimal("30.94"), Decimal("16.12"))
    by_site = data.tables["by_site"].frame.set_index("site")
    assert by_site["savings"].to_dict() == s.by_site["savings"].to_dict()
    assert data.values["previous"]["actual_cost"] == Decimal("1.00")  # s1, 2026-09-30
    days = data.tables["by_day"].frame
    assert len(days) == 31 and sum(days["savings"], Decimal(0)) == KNOWN_OCTOBER["savings"]
    cards = texts(route("/", "?month=2026-10", ctx))
    assert "USD 14.82" in cards and "USD 16.12" in cards and "20.0 %" in cards


@pytest.mark.parametrize("query", [{"month": "2026-10"}, {"month": "2026-10", "site": "NYC"},
                                   {"start": "2026-10-02", "end": "2026-10-20", "call_type": "outbound"}])
def test_pages_built_from_the_cube_equal_the_analytics_api(ctx, lake, query):
    """The cube (one scan, regrouped) gives savings_by's, top_destinations' and top_talkers' figures exactly."""
    view = view_of(ctx, overview, query)
    sel = view.selection
    for by, table in (("site", "by_site"), ("carrier", "by_carrier"), ("call_type", "call_types")):
        shown = overview.data(ctx, view).tables[table].frame.set_index(by)
        assert shown.equals(savings_by(sel, by).astype(shown.dtypes)), by
    shown = carriers.data(ctx, view_of(ctx, carriers, query)).tables["by_carrier"].frame.set_index("carrier")
    assert shown.equals(savings_by(sel, "carrier").astype(shown.dtypes))
    countries = destinations.data(ctx, view_of(ctx, destinations, query)).tables["countries"].frame
    expected = top_destinations(sel, 250, level="country").reset_index()
    shared = [c for c in expected.columns if c in countries.columns]  # the API also has raw seconds and answered
    assert {"destination", "calls", "minutes", "actual_cost", "reference_cost", "savings"} <= set(shared)
    assert countries[shared].equals(expected[shared].astype(countries[shared].dtypes))
    talkers = extensions.data(ctx, view_of(ctx, extensions, query)).tables["top_talkers"].frame
    expected = top_talkers(sel, 20).reset_index()
    assert list(talkers["extension"]) == list(expected["extension"])
    assert list(talkers["actual_cost"]) == list(expected["actual_cost"])


def test_filters_narrow_the_figures_like_select(ctx, lake):
    view = view_of(ctx, overview, {"month": "2026-10", "site": "NYC", "call_type": "outbound"})
    data = overview.data(ctx, view)
    expected = savings_by(select(lake, "2026-10", site="NYC", call_type="outbound"), "carrier")
    assert data.tables["by_carrier"].frame.set_index("carrier")["actual_cost"].to_dict() == \
        expected["actual_cost"].to_dict()


@pytest.mark.parametrize("query, message", [
    ({"month": "2026-10", "site": "NCY"}, "NCY"),
    ({"month": "2026-13"}, "2026-13"),
    ({"month": "2026-10", "colour": "red"}, "colour"),
    ({"start": "2026-10-01"}, "both start and end"),
    ({"month": "2026-10", "call_type": "outgoing"}, "outgoing"),
])
def test_an_unknown_value_is_a_message_never_a_default(ctx, query, message):
    view = view_of(ctx, overview, query)
    assert not view.ok and any(message in e for e in view.errors), view.errors
    page = texts(route("/", "?" + "&".join(f"{k}={v}" for k, v in query.items()), ctx))
    assert any(message in t for t in page) and "Fix the filter above to see figures (or clear it)." in page


def test_scope_narrows_and_refuses_what_is_outside(ctx, lake):
    scope = Scope(sites=frozenset({"LON"}))
    view = resolve(None, lake, {"month": "2026-10"}, scope=scope)
    assert overview.data(ctx, view).values["total"]["calls"] == 3
    refused = resolve(None, lake, {"month": "2026-10", "site": "NYC"}, scope=scope)
    assert not refused.ok and "outside what you may see" in refused.errors[0]


def test_sites_drill_levels(ctx):
    levels = []
    for q in ({"month": "2026-10"}, {"month": "2026-10", "site": "NYC"},
              {"month": "2026-10", "site": "NYC", "department": "Sales"},
              {"month": "2026-10", "site": "NYC", "department": "Sales", "extension": "1001"}):
        data = sites.data(ctx, view_of(ctx, sites, q))
        levels.append(data.values["level"])
    assert levels == ["site", "department", "extension", None]
    calls = data.tables["calls"].frame
    assert set(calls["call_id"]) == {"c1", "c5"}


def test_every_page_renders_and_empty_lake_says_what_to_do(ctx, tmp_path):
    for page in PAGES:
        assert page.NAME in texts(route(page.PATH, "?month=2026-10", ctx)), page.PATH
    empty = PageContext(tmp_path / "none", "USD")
    for page in PAGES:
        assert any("callcost import" in t for t in texts(route(page.PATH, "", empty))), page.PATH
    assert "Page not found" in texts(route("/nope", "", ctx))


def test_new_search_keeps_the_url_the_whole_state():
    assert new_search("?month=2026-10&extension=1001", "site", {"month": "2026-10", "site": "NYC"}) == \
        "?month=2026-10&site=NYC&extension=1001"
    assert new_search("?month=2026-10&site=NYC", "site", {"month": "2026-10", "site": None}) == "?month=2026-10"
    assert new_search("?month=2026-10", "start", {"month": "2026-10", "start": "2026-10-01", "end": None}) == \
        "?month=2026-10"  # half a range changes nothing yet
    assert new_search("?month=2026-10", "end", {"month": "2026-10", "start": "2026-10-01", "end": "2026-10-09"}) == \
        "?start=2026-10-01&end=2026-10-09"


def test_cache_is_keyed_by_the_lake_contents(tmp_path):
    root = tmp_path / "lake"
    write_lake(root, KNOWN_CALLS[:5])
    ctx = PageContext(root, "USD")
    before = lake_version(root)
    view = view_of(ctx, overview, {"month": "2026-10"})
    first = page_data(ctx, overview, view)
    assert page_data(ctx, overview, view) is first and ctx.cache.hits >= 1
    time.sleep(0.01)
    write_lake(root, KNOWN_CALLS)  # a new import: more files in the partitions
    assert lake_version(root) != before
    view = view_of(ctx, overview, {"month": "2026-10"})
    assert page_data(ctx, overview, view).values["total"]["calls"] == 10


def test_download_csv_is_exact_text(ctx):
    table = page_data(ctx, overview, view_of(ctx, overview, {"month": "2026-10"})).tables["by_site"]
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode())))
    assert rows[0][:4] == ["Site", "Calls", "Minutes", "Actual cost (USD)"]
    assert ["NYC", "5"] == rows[[r[0] for r in rows].index("NYC")][:2]
    assert rows[-1][0] == "Total" and rows[-1][5] == "16.12"


@pytest.fixture(scope="module")
def server(lake):
    srv = make_wsgi_server(create_app(lake, "USD"), "127.0.0.1", 0).start()
    yield srv.url
    srv.shutdown()


def test_served_by_waitress_with_downloads(server):
    with urllib.request.urlopen(server + "/", timeout=10) as resp:
        assert resp.headers.get("Server") == "callcost"  # waitress's ident; Flask's dev server says Werkzeug
    with urllib.request.urlopen(server + "/download/overview/by_site.csv?month=2026-10", timeout=10) as resp:
        assert resp.headers["Content-Type"].startswith("text/csv")
        body = resp.read().decode()
    assert "Total,10,43.83,14.82,30.94,16.12,2" in body
    with urllib.request.urlopen(server + "/download/sites.xlsx?month=2026-10&site=NYC", timeout=10) as resp:
        book = openpyxl.load_workbook(io.BytesIO(resp.read()))
    sheet = book["by_department"]
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["Sales"][1] == 3 and values["Sales"][4] == pytest.approx(3.70)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(server + "/download/overview.xlsx?month=2026-10&site=NCY", timeout=10)
    assert err.value.code == 400 and "NCY" in err.value.read().decode()


def test_a_bar_click_sets_the_next_level_and_none_is_not_a_drill():
    assert sites.drill_search("?month=2026-10&site=LON", {"x": "Finance"}) == "?month=2026-10&site=LON&department=Finance"
    assert sites.drill_search("?month=2026-10&site=LON", {"x": "(none)"}) is None  # no filter selects "no department"
    assert sites.drill_search("?month=2026-10&extension=2001", {"x": "c1"}) is None  # the calls: nothing below


def test_charts_label_money_as_money(ctx):
    page = route("/", "?month=2026-10", ctx)
    graph = next(c for c in page._traverse() if getattr(c, "id", None) == "overview-site-chart")
    savings = next(t for t in graph.figure.data if t.name == "Savings")
    assert dict(zip(savings.x, savings.customdata)) == {"LON": "USD 4.95", "NYC": "USD 3.50", "SHA": "USD 7.67"}
    assert "%{customdata}" in savings.hovertemplate and graph.figure.layout.yaxis.tickprefix == "USD "


def test_extension_search_and_calls(ctx):
    data = extensions.data(ctx, view_of(ctx, extensions, {"month": "2026-10", "q": "100"}))
    assert list(data.tables["extensions"].frame["extension"]) == ["1001", "1002", "1003"]
    assert len(data.tables["top_talkers"].frame) == 8  # every October extension: the search does not narrow it
    data = extensions.data(ctx, view_of(ctx, extensions, {"month": "2026-10", "extension": "1003"}))
    assert set(data.tables["calls"].frame["call_id"]) == {"c3", "c4"}


def test_a_scoped_viewer_is_offered_only_their_sites(ctx):
    scope = Scope(sites=frozenset({"LON"}))
    page = route("/", "?month=2026-10", ctx, scope)
    site = next(c for c in page._traverse() if getattr(c, "id", None) == {"type": "flt", "key": "site"})
    assert [o["value"] for o in site.options] == ["LON"]
    assert "USD 1.95" in texts(page)  # LON's actual cost alone
