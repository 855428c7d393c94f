"""Trunk utilisation: peak simultaneous calls per trunk group, its busy hour and its average load.

What sizes a trunk (how many channels to buy) is its *peak concurrency*, not its minutes; see
:mod:`analytics.trunks` for the sweep line that computes it.  A trunk group is a ``[[trunk]]`` table of
the config (its ``match`` glob, e.g. ``NYC-PSTN-*`` groups GW1 and GW2); trunks no table matches, or
every trunk when no config is given, are their own group.  Hours are in the trunk's site's local time
(UTC without a config).  Load in Erlang = channel-holding seconds ÷ seconds in the month.
"""

from __future__ import annotations

import os
from decimal import Decimal

from analytics.calls import month_range
from analytics.trunks import hour_of_day_profile, peak_concurrency, trunk_calls
from analytics.reporting import Figure, Report, ReportData, ReportTable, TableRow
from analytics.reporting.i18n import N_, Msg
from reports.figures import minutes, month_calls

__all__ = ["TrunkUtilisationReport"]


class TrunkUtilisationReport(Report):
    """Per trunk group: calls, holding minutes, peak simultaneous calls and when, busy hour, Erlang."""

    name = "trunk-utilisation"
    title = N_("Trunk utilisation")

    def _groups(self) -> tuple[list[tuple[str, str, str]], dict[str, str], dict[str, str]]:
        """(pbx, glob, group) patterns, group → IANA zone, group → site, from the config's trunks.

        A group is named by its ``match`` glob, with the PBX added when several PBXs use the same glob
        (``SIP-ONNET-* (lon-csv)``): each PBX's trunks are channels of their own.
        """
        if self.config is None:
            return [], {}, {}
        trunks = self.config.trunks
        shared = {t.match for t in trunks if sum(u.match == t.match for u in trunks) > 1}
        patterns = [(t.pbx, t.match, f"{t.match} ({t.pbx})" if t.match in shared else t.match) for t in trunks]
        zones = {name: self.config.sites[t.site].timezone for t, (_, _, name) in zip(trunks, patterns)
                 if t.site in self.config.sites}
        sites = {name: t.site for t, (_, _, name) in zip(trunks, patterns)}
        return patterns, zones, sites

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        month = month_calls(lake, period, currency)
        start, end = month_range(period)
        patterns, zones, sites = self._groups()
        calls = trunk_calls(lake, start, end, patterns=patterns)
        overall = peak_concurrency(calls)
        hourly = peak_concurrency(calls, freq="h")
        daily = peak_concurrency(calls, freq="D")
        profile = hour_of_day_profile(hourly, timezones=zones)
        month_seconds = ((end - start).days + 1) * 86_400

        rows = []
        for rec in overall.to_dict("records"):
            group = rec["trunk_group"]
            tz = zones.get(group, "UTC")
            hours = profile.loc[group] if group in profile.index else None
            busy = int(hours.idxmax()) if hours is not None and len(hours) else None
            rows.append(TableRow(str(group), {
                "site": sites.get(group, ""), "calls": int(rec["calls"]), "minutes": minutes(rec["seconds"]),
                "peak": int(rec["peak"]),
                "peak_at": f"{rec['peak_at'].tz_convert(tz):%Y-%m-%d %H:%M} {'UTC' if tz == 'UTC' else tz}",
                "busy_hour": f"{busy:02d}:00–{(busy + 1) % 24:02d}:00" if busy is not None else None,
                "erlang": (Decimal(int(rec["seconds"])) / month_seconds).quantize(Decimal("0.01")),
            }))
        held = sum(int(s) for s in overall["seconds"]) if len(overall) else 0
        total = TableRow("Total", {"site": "", "calls": sum(r.values["calls"] for r in rows),
                                   "minutes": minutes(held), "peak": None, "peak_at": None, "busy_hour": None,
                                   "erlang": (Decimal(held) / month_seconds).quantize(Decimal("0.01"))}, "total")
        columns = (("label", N_("Trunk group"), "text"), ("site", N_("Site"), "text"), ("calls", N_("Calls"), "count"),
                   ("minutes", N_("Holding minutes"), "minutes"), ("peak", N_("Peak simultaneous calls"), "count"),
                   ("peak_at", N_("Peak first reached"), "text"), ("busy_hour", N_("Busy hour (local)"), "text"),
                   ("erlang", N_("Average load (Erlang)"), "minutes"))
        hour_rows = tuple(TableRow(str(g), {f"h{h:02d}": int(v) for h, v in profile.loc[g].items()})
                          for g in profile.index)
        day_rows = tuple(TableRow(f"{rec['trunk_group']} / {rec['bucket']:%Y-%m-%d}",
                                  {"peak": int(rec["peak"]), "calls": int(rec["calls"]),
                                   "minutes": minutes(rec["seconds"])})
                         for rec in daily.to_dict("records"))
        tables = {
            "groups": ReportTable("By trunk group", columns, (*rows, total), chart=("peak",)),
            "hours": ReportTable("Peak by hour of day", (("label", N_("Trunk group"), "text"),
                                                         *((f"h{h:02d}", f"{h:02d}", "count") for h in range(24))),
                                 hour_rows),
            "days": ReportTable("Peak by day (UTC)", (("label", N_("Trunk group / day"), "text"),
                                                      ("peak", N_("Peak simultaneous calls"), "count"),
                                                      ("calls", N_("Calls"), "count"), ("minutes", N_("Holding minutes"), "minutes")),
                                day_rows),
        }
        headline = (
            Figure("Trunk groups", len(rows), "count"), Figure("Calls over trunks", total.values["calls"], "count"),
            Figure("Holding minutes", total.values["minutes"], "minutes"),
            Figure("Highest peak of any group", max((r.values["peak"] for r in rows), default=0), "count"),
        )
        notes = (Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
                 N_("A call holds a channel from seizure (start, ringing included) to release (end)."),
                 N_("Busy hour = the hour of the day (site local time) with the highest peak in the month."))
        return ReportData(self.name, self.title, period, month.currency or currency, month.scale, headline, tables,
                          notes, primary="groups")
