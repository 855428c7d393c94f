"""Destination classes: where the month's calls went — local, national, mobile, international, premium…

The ``category`` the classifier gave each call (SPEC §5) is the class; calls the classifier could not
class (inbound calls have no destination class) are the ``(none)`` line.  A second table breaks
international calls down by destination country, which is where cost usually hides.
"""

from __future__ import annotations

import os

from analytics.calls import month_range
from analytics.reporting import Figure, Report, ReportData, ReportTable
from analytics.reporting.i18n import N_, Msg
from reports.figures import BREAKDOWN_COLUMNS, breakdown_rows, grouped, month_calls

__all__ = ["DestinationClassesReport"]


class DestinationClassesReport(Report):
    """Calls, minutes and cost per destination class, and international calls per country."""

    name = "destination-classes"
    title = N_("Destination classes")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        month = month_calls(lake, period, currency)
        by_class = grouped(month, ["category"])
        by_country = grouped(month, ["dest_country"], "category = 'international'")
        rows = breakdown_rows(by_class)
        total = rows[-1].values
        intl = next((r.values for r in rows if r.label == "international"), None)
        headline = (
            Figure("Calls", total["calls"], "count"), Figure("Minutes", total["minutes"], "minutes"),
            Figure("Actual cost", total["actual_cost"], "money"),
            Figure("International cost", intl["actual_cost"] if intl else 0, "money"),
            Figure("International share of cost", intl["cost_share"] if intl else None, "percent"),
            Figure("Unrated calls (not priced)", total["unrated_calls"], "count"),
        )
        tables = {
            "class": ReportTable("By destination class", (("label", N_("Class"), "text"), *BREAKDOWN_COLUMNS),
                                 tuple(rows), chart=("actual_cost",)),
            "country": ReportTable("International by country",
                                   (("label", N_("Country"), "text"), *BREAKDOWN_COLUMNS),
                                   tuple(breakdown_rows(by_country)), chart=("actual_cost",)),
        }
        start, end = month_range(period)
        notes = (Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
                 N_("Class = the destination category of the called number; '(none)' = calls without one "
                    "(inbound calls)."),
                 N_("Costs cover rated calls; unrated calls are counted apart, never as cost 0."))
        return ReportData(self.name, self.title, period, month.currency or currency, month.scale, headline, tables,
                          notes, primary="class")
