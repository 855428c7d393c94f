"""Fraud watch: after-hours, international and premium-rate calls per extension — possible toll fraud.

Toll fraud shows as outgoing calls nobody should be making: at night or at the weekend, to far
countries, to premium numbers; often from one extension (or a trunk-to-trunk ``tandem`` leg) and in a
burst.  This report totals the three watches per extension for the month and lists every
*crossing*: an extension whose calls, minutes or cost in one watch reached an ``[alerts]`` threshold
on one local day.  :mod:`reports.alerts` runs the same check over the last days and mails a crossing
as soon as it is seen.

* Watched calls: ``call_type`` ``outbound`` or ``tandem`` (emergency calls are never watched).
* After hours: started outside ``business_hours`` on ``business_days`` in the *site's* local time,
  or on a public holiday of the site's calendar (``holidays_after_hours``).
* International: ``category = international``; premium: ``category = premium``.
* Thresholds count per extension per local day; a figure *equal to* the threshold is a crossing.
  Calls and minutes count every watched call; cost counts rated calls (unrated are listed apart).
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from decimal import Decimal

import holidays as holiday_calendars
import numpy as np
import pandas as pd

from analytics import duck
from analytics.calls import DateLike, calls_relation, month_range
from analytics.reporting import Figure, Report, ReportData, ReportTable, TableRow
from analytics.reporting.i18n import N_, Msg
from reports.figures import NO_VALUE, minutes, month_calls
from reports.settings import WATCHES, AlertSettings, alert_settings
from warehouse.config import Enterprise

__all__ = ["FraudWatchReport", "crossings", "watched_calls"]

WATCH_TITLES = {"after_hours": N_("After hours"), "international": N_("International"), "premium": N_("Premium rate")}
_WATCHED_TYPES = ("outbound", "tandem")


def watched_calls(lake: str | os.PathLike[str], start: DateLike, end: DateLike, alerts: AlertSettings,
                  ent: Enterprise | None = None) -> pd.DataFrame:
    """Outgoing calls of UTC dates *start*..*end* with the watches they fall in and their site-local day.

    Columns: call_id, extension, site, start_utc, local_day, seconds, rated, cost (Decimal or None),
    after_hours, international, premium (bool).
    """
    cols = ["call_id", "extension", "site", "start_utc", "local_day", "seconds", "rated", "cost", *WATCHES]
    relation = calls_relation(lake, start, end)
    if relation is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    types = ", ".join(f"'{t}'" for t in _WATCHED_TYPES)
    sql = (f"SELECT call_id, coalesce(extension, '{NO_VALUE}') AS extension, coalesce(site, '{NO_VALUE}') AS site, "
           f"start_utc, duration_s AS seconds, rating_status = 'rated' AS rated, actual_cost AS cost, "
           f"coalesce(category = 'international', false) AS international, "
           f"coalesce(category = 'premium', false) AS premium "
           f"FROM {relation} WHERE call_type IN ({types}) ORDER BY start_utc, call_id")
    with duck.connect() as con:
        df = con.sql(sql).to_arrow_table().to_pandas()
    after = np.zeros(len(df), dtype=bool)
    local_day = np.empty(len(df), dtype=object)
    sites = ent.sites if ent is not None else {}
    for site_id, idx in df.groupby("site").indices.items():  # one iteration per site
        site = sites.get(site_id)
        local = df["start_utc"].iloc[idx].dt.tz_convert(site.timezone if site else "UTC")
        clock = local.dt.time
        open_day = local.dt.day_of_week.isin(sorted(alerts.business_days))
        in_hours = (clock >= alerts.business_start) & (clock < alerts.business_end) & open_day
        days = local.dt.date
        if site is not None and alerts.holidays_after_hours and len(days):
            years = range(min(days).year, max(days).year + 1)
            calendar = holiday_calendars.country_holidays(site.holiday_country, subdiv=site.holiday_subdiv, years=years)
            in_hours &= ~days.isin(set(calendar))
        after[idx] = ~in_hours.to_numpy()
        local_day[idx] = days.to_numpy()
    df["after_hours"] = after
    df["local_day"] = local_day
    df["seconds"] = df["seconds"].astype("int64")
    for w in WATCHES:
        df[w] = df[w].astype(bool)
    return df[cols]


def _totals(calls: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """calls, seconds, cost (exact, rated only), unrated per *keys*."""
    g = calls.assign(unrated=~calls["rated"].astype(bool)).groupby(keys, sort=True)
    out = g.agg(calls=("call_id", "size"), seconds=("seconds", "sum"), unrated=("unrated", "sum"))
    out["cost"] = g["cost"].agg(lambda v: sum((c for c in v if c is not None and not pd.isna(c)), Decimal(0)))
    return out.reset_index()


def crossings(calls: pd.DataFrame, alerts: AlertSettings) -> pd.DataFrame:
    """Each (watch, local day, extension) whose day reached a threshold: figures and what was crossed."""
    cols = ["watch", "local_day", "extension", "site", "calls", "seconds", "cost", "unrated", "crossed"]
    found = []
    for watch in WATCHES:  # three watches, each a vectorised groupby
        limit = alerts.watches.get(watch)
        part = calls[calls[watch]] if len(calls) else calls
        if limit is None or not limit.is_set() or part.empty:
            continue
        day = _totals(part, ["local_day", "extension", "site"])
        mins = day["seconds"].map(minutes)
        hit = pd.Series(False, index=day.index)
        what = pd.Series("", index=day.index)
        for name, values, threshold, unit in (("calls", day["calls"], limit.calls, ""),
                                              ("minutes", mins, limit.minutes, " min"),
                                              ("cost", day["cost"], limit.cost, "")):
            if threshold is None:
                continue
            over = values.map(lambda v, t=threshold: Decimal(v) >= t).astype(bool)
            what = what.where(~over, what + np.where(what == "", "", "; ") + f"{name} ≥ {threshold}{unit}")
            hit |= over
        found.append(day[hit].assign(watch=watch, crossed=what[hit]))
    if not found:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    return pd.concat(found, ignore_index=True)[cols].sort_values(["local_day", "watch", "extension"],
                                                                  ignore_index=True)


class FraudWatchReport(Report):
    """Per extension: after-hours, international and premium calls; every day a threshold was crossed."""

    name = "fraud-watch"
    title = N_("Fraud watch: after-hours, international and premium calls")

    def alerts(self) -> AlertSettings:
        found = alert_settings(self.config) if self.config is not None else None
        return found or AlertSettings(recipients=())

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        month = month_calls(lake, period, currency)
        start, end = month_range(period)
        alerts = self.alerts()
        calls = watched_calls(lake, start, end, alerts, self.config)
        hits = crossings(calls, alerts)
        columns = (("label", N_("Extension"), "text"), ("site", N_("Site"), "text"), ("calls", N_("Calls"), "count"),
                   ("minutes", N_("Minutes"), "minutes"), ("cost", N_("Cost"), "money"),
                   ("unrated_calls", N_("Unrated calls"), "count"))
        tables: dict[str, ReportTable] = {}
        headline = []
        crossing_rows = tuple(
            TableRow(f"{r['local_day']:%Y-%m-%d} {r['extension']}", {
                "watch": WATCH_TITLES[r["watch"]], "site": r["site"], "calls": int(r["calls"]),
                "minutes": minutes(r["seconds"]), "cost": r["cost"], "unrated_calls": int(r["unrated"]),
                "crossed": r["crossed"]}) for r in hits.to_dict("records"))
        tables["crossings"] = ReportTable(
            "Threshold crossings", (("label", N_("Day / extension"), "text"), ("watch", N_("Watch"), "text"),
                                    *columns[1:], ("crossed", N_("Threshold reached"), "text")), crossing_rows)
        headline.append(Figure("Threshold crossings", len(crossing_rows), "count"))
        for watch in WATCHES:
            part = calls[calls[watch]] if len(calls) else calls
            per_ext = _totals(part, ["extension", "site"]) if len(part) else _totals(calls.iloc[0:0], ["extension", "site"])
            per_ext = per_ext.sort_values(["cost", "extension"], ascending=[False, True], key=None, kind="stable") \
                if len(per_ext) else per_ext
            rows = [TableRow(str(r["extension"]), {"site": r["site"], "calls": int(r["calls"]),
                                                   "minutes": minutes(r["seconds"]), "cost": r["cost"],
                                                   "unrated_calls": int(r["unrated"])})
                    for r in per_ext.to_dict("records")]
            total_cost = sum((r.values["cost"] for r in rows), Decimal(0)).quantize(month.quantum)
            seconds = int(part["seconds"].sum()) if len(part) else 0
            total = TableRow("Total", {"site": "", "calls": sum(r.values["calls"] for r in rows),
                                       "minutes": minutes(seconds), "cost": total_cost,
                                       "unrated_calls": sum(r.values["unrated_calls"] for r in rows)}, "total")
            tables[watch] = ReportTable(Msg("{watch} calls by extension", watch=WATCH_TITLES[watch]), columns, (*rows, total),
                                        chart=("cost",) if watch == "after_hours" else (), sheet=WATCH_TITLES[watch])
            headline += [Figure(Msg("{watch} calls", watch=WATCH_TITLES[watch]), total.values["calls"], "count"),
                         Figure(Msg("{watch} cost", watch=WATCH_TITLES[watch]), total_cost, "money")]
        limits = "; ".join(f"{WATCH_TITLES[w]}: " + ", ".join(f"{k} ≥ {v}" for k, v in
                                                            (("calls", t.calls), ("minutes", t.minutes),
                                                             ("cost", t.cost)) if v is not None)
                           for w, t in alerts.watches.items() if t.is_set()) or "no thresholds configured ([alerts])"
        hours = {"start": f"{alerts.business_start:%H:%M}", "end": f"{alerts.business_end:%H:%M}"}
        notes = (Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
                 (Msg("Business hours {start}-{end} site local time, holidays count as after hours.", **hours)
                  if alerts.holidays_after_hours else Msg("Business hours {start}-{end} site local time.", **hours)),
                 Msg("Thresholds per extension per local day: {limits}.", limits=limits),
                 N_("Watched: outbound and tandem calls. Cost covers rated calls; unrated calls are counted apart."))
        return ReportData(self.name, self.title, period, month.currency or currency, month.scale, tuple(headline),
                          tables, notes, primary="crossings")


def lookback_window(today: date, alerts: AlertSettings) -> tuple[date, date]:
    """UTC dates the immediate alert check reads: the last ``lookback_days`` days up to *today*."""
    return today - timedelta(days=alerts.lookback_days), today
