"""Live (``/live``): the calls rated last by the running collector, refreshed every few seconds, and
per-PBX health: last CDR time, last batch stored, quarantined count, offline backlog.

The calls are the lake's newest partitions ordered by ``rated_at``; health mixes the lake (the last
call each PBX produced) with the SQL database's ingest accounting.  The period filter does not
apply (live is *now*); the other filters do.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pandas as pd
from dash import Dash, Input, Output, State, dcc, html

from analytics.reporting.i18n import N_
from analytics.calls import partition_days
from dashboards import ids
from dashboards.app_links import parse_query
from dashboards.filters import Scope, View
from dashboards.pages import PageContext, PageData, page_data, view_of
from dashboards.pages.common import shifted
from dashboards.pages.dbread import ingest_by_pbx
from dashboards.tables import Column, Table, html_table

PATH = "/live"
NAME = "Live"
SLUG = "live"
EXTRA_KEYS: tuple[str, ...] = ()
CACHE_SECONDS = 3
REFRESH_MS = 5000
LAST = 50
#: A PBX with no batch stored for this long is shown as silent.
SILENT_AFTER = timedelta(minutes=15)


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    out = PageData()
    days = partition_days(ctx.lake)
    if not days:
        out.notes.append("No calls yet: start `callcost collect` (or run `callcost import`), and they appear here.")
        return out
    recent = shifted(view.selection, days[-1] - timedelta(days=1), days[-1])
    calls = recent.query(
        "SELECT rated_at, start_utc, pbx, site, extension, call_type, coalesce(connected_number_e164, called_number) "
        "AS number, duration_s, actual_cost, savings, rating_status FROM {calls} "
        f"ORDER BY rated_at DESC NULLS LAST, start_utc DESC, call_id LIMIT {LAST}").to_pandas()
    out.add(Table("last_calls", f"Last {LAST} calls rated", calls,
                  (Column("rated_at", "Rated (UTC)", "datetime"), Column("start_utc", "Start (UTC)", "datetime"),
                   Column("pbx", "PBX"), Column("site", "Site"), Column("extension", "Extension"),
                   Column("call_type", "Call type"), Column("number", "Number"), Column("duration_s", "Seconds", "count"),
                   Column("actual_cost", "Actual cost", "money"), Column("savings", "Savings", "money"),
                   Column("rating_status", "Status")), ctx.currency, recent.scale))
    last = recent.query("SELECT pbx, max(start_utc) AS last_cdr, max(rated_at) AS last_rated FROM {calls} "
                        "GROUP BY pbx ORDER BY pbx").to_pandas()
    health = last
    if ctx.ent is not None:
        pbxs = pd.DataFrame({"pbx": [p.id for p in ctx.ent.pbxs.values()
                                     if scope is None or scope.sites is None or p.site in scope.sites]})
        health = pbxs.merge(last, on="pbx", how="left" if scope is not None and scope.sites is not None else "outer")
        try:
            ingest = ingest_by_pbx(ctx.ent)[["pbx", "quarantined", "last_batch_at"]]
            health = health.merge(ingest, on="pbx", how="left")
        except Exception as exc:  # noqa: BLE001 - the database being down is itself health news
            out.notes.append(f"The database could not be read ({exc}); health shows the lake only.")
        out.values["backlog_files"] = _backlog(ctx.ent.storage.offline)
        out.notes.append(f"Offline backlog (batches spooled while the database was down): "
                         f"{out.values['backlog_files']:,} file(s).")
    now = datetime.now(UTC)
    stamp = health["last_batch_at"] if "last_batch_at" in health else health["last_rated"]
    health["state"] = [_state(t, now) for t in stamp]
    cols = [Column("pbx", "PBX"), Column("state", "State"), Column("last_cdr", "Last CDR (UTC)", "datetime"),
            Column("last_rated", "Last rated (UTC)", "datetime")]
    if "quarantined" in health:
        cols += [Column("last_batch_at", "Last batch stored (UTC)", "datetime"),
                 Column("quarantined", "Quarantined", "count")]
    out.add(Table("health", "Per-PBX health", health, tuple(cols), ctx.currency, recent.scale))
    return out


def _state(stamp: object, now: datetime) -> str:
    """``receiving`` when the PBX's last batch is recent, ``silent`` when not, ``no data`` without one."""
    if stamp is None or pd.isna(stamp):
        return N_("no data")
    t = pd.Timestamp(stamp)
    t = t.tz_localize("UTC") if t.tzinfo is None else t
    return "receiving" if now - t < SILENT_AFTER else "silent"


def _backlog(folder) -> int:
    try:
        return sum(len(files) for _, _, files in os.walk(folder))
    except OSError:
        return 0


def body(ctx: PageContext, view: View, data: PageData) -> list:
    parts = [html.P(f"Refreshed every {REFRESH_MS // 1000} s; last at {datetime.now(UTC):%H:%M:%S} UTC.",
                    className="note")]
    for n in data.notes:
        parts.append(html.P(n, className="note"))
    for name in ("health", "last_calls"):
        t = data.tables.get(name)
        if t is not None:
            parts += [html.H3(t.title), html_table(t)]
    return parts


def render(ctx: PageContext, view: View, data: PageData) -> list:
    return [dcc.Interval(id=ids.LIVE_TICK, interval=REFRESH_MS), html.Div(body(ctx, view, data), id=ids.LIVE_BODY)]


def register_callbacks(app: Dash, ctx: PageContext) -> None:
    import sys
    page = sys.modules[__name__]

    @app.callback(Output(ids.LIVE_BODY, "children"), Input(ids.LIVE_TICK, "n_intervals"), State(ids.URL, "search"),
                  prevent_initial_call=True)
    def _tick(_n: int, search: str | None):
        scope = ctx.scope_for()
        view = view_of(ctx, page, parse_query(search), scope)
        if not view.ok:
            return [html.P(m, className="filter-error") for m in view.errors]
        return body(ctx, view, page_data(ctx, page, view, scope))
