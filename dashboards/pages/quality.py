"""Quality (``/quality``): unrated calls by reason, quarantined records by reason, ingest accounting per PBX.

The unrated calls come from the lake (with the filters); quarantine and ingest accounting from the
SQL database (the config's ``[storage] database``), which the lake's cache key does not see — so
this page's data is also refreshed every few seconds.
"""

from __future__ import annotations

from dash import html

from analytics.reporting.i18n import N_
from analytics.breakdowns import MINUTES_SQL
from dashboards import charts, ids
from dashboards.filters import Scope, View
from dashboards.pages import PageContext, PageData
from dashboards.pages.common import graph
from dashboards.pages.dbread import ingest_by_pbx, quarantine_by_reason
from dashboards.tables import Column, Table, html_table

PATH = "/quality"
NAME = "Quality"
SLUG = "quality"
EXTRA_KEYS: tuple[str, ...] = ()
CACHE_SECONDS = 5


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    out = PageData()
    sel = view.selection
    unrated = sel.query(f"SELECT coalesce(unrated_reason, '(no reason recorded)') AS reason, count(*)::BIGINT AS calls, "
                        f"{MINUTES_SQL} AS minutes FROM {{calls}} WHERE rating_status <> 'rated' "
                        "GROUP BY 1 ORDER BY calls DESC, reason").to_pandas()
    out.add(Table("unrated", "Unrated calls by reason", unrated, (Column("reason", "Reason"),
                                                                   Column("calls", "Calls", "count"),
                                                                   Column("minutes", "Minutes", "minutes")),
                  ctx.currency, sel.scale, {"reason": "Total", "calls": int(unrated["calls"].sum()) if len(unrated) else 0}))
    if ctx.ent is None:
        out.notes.append("Quarantine and ingest accounting are in the SQL database: start the dashboard with the "
                         "config (`callcost dashboard --config callcost.toml`) to see them.")
        return out
    try:
        quarantine, ingest = quarantine_by_reason(ctx.ent), ingest_by_pbx(ctx.ent)
    except Exception as exc:  # noqa: BLE001 - any database failure is shown, the lake's part still is
        out.notes.append(f"The database ({ctx.ent.storage.database.split('@')[-1]}) could not be read: {exc}")
        return out
    if scope is not None and scope.sites is not None:  # a PBX belongs to a site: show the viewer's PBXs only
        mine = {p.id for p in ctx.ent.pbxs.values() if p.site in scope.sites}
        quarantine, ingest = quarantine[quarantine["pbx"].isin(mine)], ingest[ingest["pbx"].isin(mine)]
    out.add(Table("quarantine", "Quarantined records by reason", quarantine,
                  (Column("pbx", "PBX"), Column("reason", "Reason"), Column("records", "Records", "count"),
                   Column("last_at", "Last (UTC)", "datetime")), ctx.currency, sel.scale))
    out.add(Table("ingest", "Ingest accounting per PBX", ingest,
                  (Column("pbx", "PBX"), Column("batches", "Batches", "count"),
                   Column("received", "Received", "count"), Column("parsed", "Parsed", "count"),
                   Column("quarantined", "Quarantined", "count"), Column("stored", "Stored", "count"),
                   Column("rated", "Rated", "count"), Column("last_batch_at", "Last batch (UTC)", "datetime")),
                  ctx.currency, sel.scale))
    return out


def render(ctx: PageContext, view: View, data: PageData) -> list:
    u = data.tables["unrated"]
    parts = [html.H3("Unrated calls")]
    if u.empty:
        parts.append(html.P("Every call of this selection is priced.", className="note"))
    else:
        parts += [graph(ids.UNRATED_CHART, charts.bars(u.frame["reason"], [("Calls", "calls", list(u.frame["calls"]))],
                                                       kind="count", horizontal=True, title="Unrated calls by reason")),
                  html_table(u),
                  html.P("Fix the tariff or the numbering plan and run `callcost rerate` for the period.",
                         className="note")]
    for name, empty in (("quarantine", N_("Nothing quarantined: every record received could be read.")),
                        ("ingest", N_("No import recorded yet: run `callcost import` or `callcost collect`."))):
        t = data.tables.get(name)
        if t is not None:
            parts += [html.H3(t.title), html_table(t) if not t.empty else html.P(empty, className="note")]
    return parts
