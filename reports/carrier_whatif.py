"""Carrier what-if: the month's outbound traffic priced under every configured carrier, and the cheapest
carrier per destination country and per destination class (least-cost routing).

Figures come from :func:`analytics.whatif.carrier_whatif` and :func:`analytics.whatif.least_cost` —
the same rating engine as the actual cost, run over the month's calls once per carrier — so this
report needs the enterprise config (its carriers and tariffs): ``Report(config=ent)``.  A carrier that
cannot price some calls shows them in its own "not priced" column; its cost covers the calls it
prices, never counting the others as 0, and deltas against the actual cost are taken over the calls
both price.  A carrier that cannot price every call is marked *incomplete* (its "Coverage" column), and
its Δ columns read "incomplete" instead of a number: a partial cost compared with a whole one is not a
saving, and a carrier pricing nothing never shows a cost or saving of 0.00.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pandas as pd

from analytics.calls import month_range
from analytics.whatif import ACTUAL, carrier_whatif, least_cost
from analytics.reporting import Figure, Kind, Report, ReportData, ReportError, ReportTable, TableRow
from analytics.reporting.i18n import N_, Msg
from reports.figures import pct

__all__ = ["CarrierWhatifReport"]

#: What an incomplete what-if row shows where a saving would be (a text, in a text-formatted cell).
INCOMPLETE = N_("incomplete")

_WHATIF_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("label", N_("Tariff"), "text"), ("calls", N_("Calls"), "count"), ("minutes", N_("Minutes"), "minutes"),
    ("cost", N_("Cost"), "money"), ("unrated_calls", N_("Not priced"), "count"),
    ("delta_vs_actual", N_("Δ vs actual"), "money"), ("delta_pct", N_("Δ % of actual"), "percent"),
    ("compared_calls", N_("Calls compared"), "count"), ("coverage", N_("Coverage"), "text"),
)


def whatif_table(df: pd.DataFrame) -> ReportTable:
    """One line per carrier (then actual and reference): the period's outbound traffic priced by each."""
    rows = []
    for rec in df.to_dict("records"):
        actual = rec["cost"] - rec["delta_vs_actual"] if rec["delta_vs_actual"] is not None else None
        values = {k: rec[k] for k in ("calls", "minutes", "cost", "unrated_calls", "delta_vs_actual",
                                      "compared_calls")}
        values["delta_pct"] = pct(rec["delta_vs_actual"], actual) if rec["kind"] == "carrier" else None
        incomplete = int(rec["unrated_calls"]) > 0
        values["coverage"] = N_("Incomplete") if incomplete else N_("Complete")
        if incomplete and rec["kind"] == "carrier":  # a partial cost against a whole one is no saving
            values["delta_vs_actual"] = values["delta_pct"] = INCOMPLETE
        if int(rec.get("priced_calls", 1)) == 0 and int(rec["calls"]) > 0:
            values["cost"] = None  # prices none of the calls: unknown, not 0.00
        rows.append(TableRow(str(rec["carrier"]), values, "group" if rec["kind"] == "carrier" else "other"))
    return ReportTable(N_("Outbound traffic under each carrier"), _WHATIF_COLUMNS, tuple(rows), chart=("cost",),
                       sheet=N_("What-if by carrier"))


def _least_cost_table(df: pd.DataFrame, carriers: list[str], title: str, label: str, sheet: str) -> ReportTable:
    columns: list[tuple[str, str, Kind]] = [("label", label, "text"), ("calls", N_("Calls"), "count"),
                                            ("minutes", N_("Minutes"), "minutes"),
                                            ("actual_cost", N_("Actual cost"), "money"),
                                            ("actual_unrated", N_("Actual not priced"), "count")]
    for c in carriers:
        columns += [(f"cost_{c}", Msg("{carrier} cost", carrier=c), "money"),
                    (f"unrated_{c}", Msg("{carrier} not priced", carrier=c), "count")]
    columns += [("cheapest", N_("Cheapest carrier"), "text"), ("cheapest_cost", N_("Cheapest cost"), "money"),
                ("saving_vs_actual", N_("Saving vs actual"), "money")]
    keys = [k for k, _, _ in columns[1:]]
    rows = [TableRow(str(group), {k: rec[k] for k in keys}) for group, rec in zip(df.index, df.to_dict("records"))]
    total: dict[str, object] = {}
    for key, _, kind in columns[1:]:
        present = [r.values[key] for r in rows if r.values.get(key) is not None]
        if kind in ("count", "minutes", "money"):
            total[key] = sum(present, Decimal(0) if kind != "count" else 0)
        else:
            total[key] = None
    rows.append(TableRow(N_("Total"), total, "total"))
    return ReportTable(title, tuple(columns), tuple(rows), sheet=sheet)


class CarrierWhatifReport(Report):
    """Per configured carrier: what the month's outbound calls would cost on its tariff; cheapest carrier per destination."""

    name = "carrier-whatif"
    title = N_("Carrier what-if and least-cost routing")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        ent = self.config
        if ent is None:
            raise ReportError("report 'carrier-whatif' needs the enterprise config (its carriers and tariffs)")
        whatif = carrier_whatif(ent, period, lake=lake)
        by_country = least_cost(ent, period, lake=lake, by="dest_country")
        by_class = least_cost(ent, period, lake=lake, by="category")
        carriers = list(ent.carriers)
        actual = whatif[whatif["carrier"] == ACTUAL].iloc[0]
        full = whatif[(whatif["kind"] == "carrier") & (whatif["unrated_calls"] == 0)]
        best = full.sort_values("cost", kind="stable").iloc[0] if len(full) else None
        # only classes where the cheapest single carrier beats today's routing count as a saving
        routed = [v for v in by_class["saving_vs_actual"] if v is not None and v > 0] if len(by_class) else []
        headline = (
            Figure(N_("Outbound calls"), int(actual["calls"]), "count"),
            Figure(N_("Minutes"), actual["minutes"], "minutes"),
            Figure(N_("Actual cost"), actual["cost"], "money"),
            Figure(N_("Actual: not priced"), int(actual["unrated_calls"]), "count"),
            Figure(N_("Cheapest carrier (all calls)"), best["carrier"] if best is not None else None, "text"),
            Figure(N_("Its cost"), best["cost"] if best is not None else None, "money"),
            Figure(N_("Its saving vs actual"), -best["delta_vs_actual"]
                   if best is not None and best["delta_vs_actual"] is not None else None, "money"),
            Figure(N_("Least-cost saving by class"), sum(routed, Decimal(0)), "money"),
        )
        tables = {
            "whatif": whatif_table(whatif),
            "by_country": _least_cost_table(by_country, carriers, N_("Least cost by destination country"),
                                            N_("Country"), N_("Least cost by country")),
            "by_class": _least_cost_table(by_class, carriers, N_("Least cost by destination class"), N_("Class"),
                                          N_("Least cost by class")),
        }
        start, end = month_range(period)
        notes = (
            Msg("Period {start} to {end}, by the UTC date each call started; outbound calls only.",
                start=start, end=end),
            N_("Each carrier prices the same calls from the breakout site each call used, with the same rating "
               "engine as the actual cost."),
            N_("Calls a carrier cannot price are counted under 'not priced' and left out of its cost, never "
               "priced as 0; a carrier that cannot price every call is incomplete and shows no Δ vs actual "
               "(negative = cheaper)."),
            N_("The cheapest carrier of a group is chosen among carriers that price every call of the group; the "
               "least-cost saving adds the classes where it beats today's routing."),
        )
        return ReportData(self.name, self.title, period, ent.currency or currency, ent.scale, headline, tables,
                          notes, primary="whatif")
