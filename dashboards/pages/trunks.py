"""Trunks (``/trunks``): peak simultaneous calls per trunk group, its hour-by-hour peak, and
hour-of-week heatmaps (the peak per weekday and hour, and the calls per weekday and hour).

Concurrency is ``analytics.trunks`` (a vectorised sweep line).  A trunk carries every call that
used it, so the site filter chooses the trunks of that site's PBXs' calls; the carrier, department
and call-type filters would show a made-up concurrency and are not applied (said on the page).
"""

from __future__ import annotations

import pandas as pd
from dash import html

from analytics.timeseries import WEEKDAYS, hourly_heatmap
from analytics.trunks import peak_concurrency, trunk_calls
from dashboards import charts, ids
from dashboards.filters import Scope, View
from dashboards.pages import PageContext, PageData
from dashboards.pages.common import graph
from dashboards.tables import Column, Table, html_table

PATH = "/trunks"
NAME = "Trunks"
SLUG = "trunks"
EXTRA_KEYS: tuple[str, ...] = ()


def _patterns(ctx: PageContext) -> list[tuple[str, str, str]]:
    if ctx.ent is None:
        return []
    return [(t.pbx, t.match, t.match) for t in ctx.ent.trunks]


def data(ctx: PageContext, view: View, scope: Scope | None = None) -> PageData:
    out = PageData()
    sel = view.selection
    calls = trunk_calls(ctx.lake, sel.start, sel.end, patterns=_patterns(ctx))
    site = view.filters.get("site")
    scope = scope or Scope()
    if (site or scope.sites is not None) and not calls.empty:
        pbx_sites = sel.query("SELECT DISTINCT pbx, site FROM {calls} WHERE trunk IS NOT NULL").to_pandas()
        wanted = {site} if site else set(scope.sites)
        calls = calls[calls["pbx"].isin(pbx_sites[pbx_sites["site"].isin(wanted)]["pbx"])]
    ignored = [k for k in ("carrier", "department", "call_type", "extension") if view.filters.get(k)]
    if ignored:
        out.notes.append(f"Not applied to trunk concurrency: the {', '.join(ignored)} filter.")
    peaks = peak_concurrency(calls)
    if not peaks.empty:
        peaks["minutes"] = [round(s / 60) for s in peaks["seconds"]]
    out.add(Table("peaks", "Peak per trunk group", peaks,
                  (Column("trunk_group", "Trunk group"), Column("peak", "Peak calls", "count"),
                   Column("peak_at", "First at (UTC)", "datetime"), Column("calls", "Calls", "count"),
                   Column("minutes", "Held minutes", "count")), ctx.currency, sel.scale))
    hourly = peak_concurrency(calls, freq="h")
    week = pd.DataFrame(columns=["trunk_group", "weekday", *range(24)])
    if not hourly.empty:
        hourly["weekday"] = [WEEKDAYS[d] for d in hourly["bucket"].dt.weekday]
        hourly["hour"] = hourly["bucket"].dt.hour
        week = hourly.pivot_table(index=["trunk_group", "weekday"], columns="hour", values="peak", aggfunc="max",
                                  fill_value=0).reindex(columns=range(24), fill_value=0).reset_index()
        order = {d: i for i, d in enumerate(WEEKDAYS)}
        week = week.sort_values(["trunk_group", "weekday"], key=lambda s: s.map(order) if s.name == "weekday" else s)
        week.columns = [str(c) for c in week.columns]
    out.add(Table("peak_by_hour_of_week", "Peak per weekday and hour (UTC)", week,
                  (Column("trunk_group", "Trunk group"), Column("weekday", "Weekday"),
                   *[Column(str(h), f"{h:02d}", "count") for h in range(24)]), ctx.currency, sel.scale))
    grid = hourly_heatmap(sel, "calls").reset_index()
    grid.columns = [str(c) for c in grid.columns]
    out.add(Table("calls_by_hour_of_week", "Calls per weekday and hour (site local time)", grid,
                  (Column("weekday", "Weekday"), *[Column(str(h), f"{h:02d}", "count") for h in range(24)]),
                  ctx.currency, sel.scale))
    return out


def render(ctx: PageContext, view: View, data: PageData) -> list:
    peaks, week, grid = (data.tables[k] for k in ("peaks", "peak_by_hour_of_week", "calls_by_hour_of_week"))
    parts = []
    if peaks.empty:
        parts.append(html.P("No calls used a trunk in this period: trunk names come from the CDRs (check the PBX "
                            "exports trunk / gateway fields), or choose another period.", className="empty"))
    else:
        f = peaks.frame
        parts += [graph(ids.PEAK_CHART, charts.bars(f["trunk_group"], [("Peak calls", "peak", list(f["peak"]))],
                                                    kind="count", title="Peak simultaneous calls")),
                  html_table(peaks)]
        first = week.frame[week.frame["trunk_group"] == f["trunk_group"].iloc[f["peak"].astype(int).argmax()]]
        if not first.empty:
            z = first[[str(h) for h in range(24)]].to_numpy().tolist()
            parts += [graph(ids.HEATMAP, charts.heatmap(z, list(range(24)), list(first["weekday"]), kind="count",
                                                        title=f"Peak of {first['trunk_group'].iloc[0]} by weekday "
                                                              "and hour (UTC)"))]
        parts += [html.H3(week.title), html_table(week)]
    z = grid.frame[[str(h) for h in range(24)]].to_numpy().tolist()
    parts += [html.H3("Calls per weekday and hour"),
              graph(ids.HEATMAP + "-calls", charts.heatmap(z, list(range(24)), list(grid.frame["weekday"]),
                                                           kind="count", title="Calls (site local time)")),
              html_table(grid)]
    return parts
