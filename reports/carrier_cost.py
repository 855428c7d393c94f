"""Carrier cost: what each carrier billed for the month, by destination class and by site.

Covers the calls that used a carrier's trunk (``carrier`` set), plus — as their own ``(none)`` line —
unrated calls that could not be tied to a carrier (unknown trunk): an internal or on-net call has no
carrier and costs no carrier anything, so it is left out.  Figures are exact sums of rated calls'
per-call costs; unrated calls are counted apart, never as cost 0.
"""

from __future__ import annotations

import os

from analytics.calls import month_range
from analytics.reporting import Figure, Report, ReportData, ReportTable
from analytics.reporting.i18n import N_, Msg
from reports.figures import BREAKDOWN_COLUMNS, breakdown_rows, grouped, month_calls, rate

__all__ = ["CarrierCostReport"]

_SCOPE = "(carrier IS NOT NULL OR rating_status <> 'rated')"


class CarrierCostReport(Report):
    """Per carrier: calls, minutes, actual cost, what the PSTN would have cost, savings, cost per minute."""

    name = "carrier-cost"
    title = N_("Carrier cost")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        month = month_calls(lake, period, currency)
        by_carrier = grouped(month, ["carrier"], _SCOPE)
        by_class = grouped(month, ["carrier", "category"], _SCOPE)
        by_class["label"] = by_class["k0"] + " / " + by_class["k1"]
        by_site = grouped(month, ["carrier", "coalesce(trunk_site, site)"], _SCOPE)
        by_site["label"] = by_site["k0"] + " / " + by_site["k1"]
        rows = breakdown_rows(by_carrier)
        total = rows[-1].values
        seconds = int(by_carrier["rated_seconds"].sum()) if len(by_carrier) else 0
        headline = (
            Figure("Carriers", sum(1 for r in rows[:-1] if r.label != "(none)"), "count"),
            Figure("Calls over carrier trunks", total["calls"], "count"),
            Figure("Minutes", total["minutes"], "minutes"),
            Figure("Carrier cost", total["actual_cost"], "money"),
            Figure("Reference cost", total["reference_cost"], "money"),
            Figure("Savings", total["savings"], "money"),
            Figure("Average cost per minute", rate(total["actual_cost"], seconds), "rate"),
            Figure("Unrated calls (not priced)", total["unrated_calls"], "count"),
        )
        label = ("label", N_("Carrier"), "text")
        tables = {
            "carrier": ReportTable("By carrier", (label, *BREAKDOWN_COLUMNS), tuple(rows),
                                   chart=("actual_cost", "reference_cost")),
            "carrier_class": ReportTable("By carrier and destination class",
                                         (("label", N_("Carrier / class"), "text"), *BREAKDOWN_COLUMNS),
                                         tuple(breakdown_rows(by_class, "label")), sheet=N_("By carrier and class")),
            "carrier_site": ReportTable("By carrier and breakout site",
                                        (("label", N_("Carrier / site"), "text"), *BREAKDOWN_COLUMNS),
                                        tuple(breakdown_rows(by_site, "label")), sheet=N_("By carrier and site")),
        }
        start, end = month_range(period)
        notes = (Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
                 N_("Calls that used a carrier trunk; '(none)' = unrated calls not tied to a carrier."),
                 N_("Costs cover rated calls; unrated calls are counted apart, never as cost 0. "
                    "Breakout site = where the call met the PSTN (tail-end hop-off: a remote site)."))
        return ReportData(self.name, self.title, period, month.currency or currency, month.scale, headline, tables,
                          notes, primary="carrier")
