"""Dashboard pages that need the config: the what-if on /carriers, billing rules, quality and live from the DB.

The enterprise and calls of ``tests/test_whatif.py`` (rated by the real RatingStage, stored by the real
Store into the lake and SQLite): ``brit`` prices only 3 of the 6 outbound calls, for 0.02 — the
lowest cost on the page, and exactly the row that must be marked incomplete and never ranked.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from rating_enterprise import parsed_calls, write_enterprise
from test_whatif import CALLS

from analytics.rating.stage import RatingStage
from analytics.whatif import carrier_whatif
from dashboards.app import route
from dashboards.pages import PageContext, carriers, live, quality, view_of
from warehouse.config import load_config
from warehouse.store import Store


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    ent = load_config(write_enterprise(tmp_path_factory.mktemp("dash-ent")))
    Store(ent).save(RatingStage(ent).rate_batch(parsed_calls(CALLS)))
    return ent


@pytest.fixture(scope="module")
def ctx(ent):
    return PageContext(ent.storage.lake, ent.currency, ent)


def rows_of(component, table_id: str) -> list:
    table = next(c for c in component._traverse() if getattr(c, "id", None) == table_id)
    return table.children[1].children


def test_an_incomplete_carrier_is_marked_and_never_ranked_cheapest(ctx, ent):
    data = carriers.data(ctx, view_of(ctx, carriers, {"month": "2026-10"}))
    w = data.tables["whatif"].frame.set_index("carrier")
    expected = carrier_whatif(ent, "2026-10").set_index("carrier")
    assert list(w["cost"]) == list(expected["cost"])  # the analytics figures, unchanged
    assert w.loc["brit", "cost"] == Decimal("0.02") < w.loc["acme", "cost"]  # cheapest number …
    assert w.loc["brit", "status"] == "incomplete: 3 not priced" and w.loc["brit", "rank"] == ""  # … not ranked
    assert (w.loc["acme", "status"], w.loc["acme", "rank"]) == ("complete", "1")
    page = route("/carriers", "?month=2026-10", ctx)
    classes = {tr.children[1].children: tr.className for tr in rows_of(page, "table-whatif")}
    assert classes["brit"] == "incomplete" and classes["acme"] == ""


def test_the_whatif_needs_a_month_and_says_so(ctx):
    data = carriers.data(ctx, view_of(ctx, carriers, {"start": "2026-10-01", "end": "2026-10-20"}))
    assert "whatif" not in data.tables and any("choose a month" in n for n in data.notes)


def test_quality_and_live_read_the_database(ctx, ent):
    q = quality.data(ctx, view_of(ctx, quality, {"month": "2026-10"}))
    assert not [n for n in q.notes if "could not be read" in n], q.notes
    assert {"unrated", "quarantine", "ingest"} <= set(q.tables)
    assert q.tables["unrated"].total["calls"] == 1  # lon-us: no brit prefix for +1
    h = live.data(ctx, view_of(ctx, live, {})).tables["health"].frame
    assert set(ent.pbxs) <= set(h["pbx"])
    assert set(h["state"]) <= {"receiving", "silent", "no data"}


def test_a_scoped_view_hides_what_covers_the_whole_enterprise(ctx, ent):
    from dashboards.filters import Scope

    scope = Scope(sites=frozenset({"LON"}))
    view = view_of(ctx, carriers, {"month": "2026-10"}, scope)
    data = carriers.data(ctx, view, scope)
    assert "whatif" not in data.tables and any("whole enterprise" in n for n in data.notes)
    h = live.data(ctx, view_of(ctx, live, {}, scope), scope).tables["health"].frame
    assert set(h["pbx"]) == {p.id for p in ent.pbxs.values() if p.site == "LON"}
