"""Carrier what-if: the month's outbound traffic priced under every configured carrier, and the cheapest
carrier per destination country and per destination class (least-cost routing).

Figures come from :func:`analytics.whatif.carrier_whatif` and :func:`analytics.whatif.least_cost` —
the same rating engine as the actual cost, run over the month's calls once per carrier — so this
report needs the enterprise config (its carriers and tariffs): ``Report(config=ent)``.  A carrier that
cannot price some calls shows them in its own "not priced" column; its cost covers the calls it
prices, never counting the others as 0, and deltas against the actual cost are taken over the calls
both price.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pandas as pd

from analytics.calls import month_range
from analytics.whatif import ACTUAL, carrier_whatif, least_cost
from analytics.reporting import Figure, Kind, Report, ReportData, ReportError, ReportTable, TableRow
from reports.figures import pct

__all__ = ["CarrierWhatifReport"]

_WHATIF_COLUMNS: tuple[tuple[str, str, Kind], ...] = (
    ("label", "Tariff", "text"), ("calls", "Calls", "count"), ("minutes", "Minutes", "minutes"),
    ("cost", "Cost", "money"), ("unrated_calls", "Not priced", "count"),
    ("delta_vs_actual", "Δ vs actual", "money"), ("delta_pct", "Δ % of actual", "percent"),
    ("compared_calls", "Calls compared", "count"),
)


def whatif_table(df: pd.DataFrame) -> ReportTable:
    """One line per carrier (then actual and reference): the period's outbound traffic priced by each."""
    rows = []
    for rec in df.to_dict("records"):
        actual = rec["cost"] - rec["delta_vs_actual"] if rec["delta_vs_actual"] is not None else None
        values = {k: rec[k] for k in ("calls", "minutes", "cost", "unrated_calls", "delta_vs_actual",
                                      "compared_calls")}
        values["delta_pct"] = pct(rec["delta_vs_actual"], actual) if rec["kind"] == "carrier" else None
        rows.append(TableRow(str(rec["carrier"]), values, "group" if rec["kind"] == "carrier" else "other"))
    return ReportTable("Outbound traffic under each carrier", _WHATIF_COLUMNS, tuple(rows), chart=("cost",),
                       sheet="What-if by carrier")


def _least_cost_table(df: pd.DataFrame, carriers: list[str], title: str, label: str, sheet: str) -> ReportTable:
    columns: list[tuple[str, str, Kind]] = [("label", label, "text"), ("calls", "Calls", "count"),
                                            ("minutes", "Minutes", "minutes"), ("actual_cost", "Actual cost", "money"),
                                            ("actual_unrated", "Actual not priced", "count")]
    for c in carriers:
        columns += [(f"cost_{c}", f"{c} cost", "money"), (f"unrated_{c}", f"{c} not priced", "count")]
    columns += [("cheapest", "Cheapest carrier", "text"), ("cheapest_cost", "Cheapest cost", "money"),
                ("saving_vs_actual", "Saving vs actual", "money")]
    keys = [k for k, _, _ in columns[1:]]
    rows = [TableRow(str(group), {k: rec[k] for k in keys}) for group, rec in zip(df.index, df.to_dict("records"))]
    total: dict[str, object] = {}
    for key, _, kind in columns[1:]:
        present = [r.values[key] for r in rows if r.values.get(key) is not None]
        if kind in ("count", "minutes", "money"):
            total[key] = sum(present, Decimal(0) if kind != "count" else 0)
        else:
            total[key] = None
    rows.append(TableRow("Total", total, "total"))
    return ReportTable(title, tuple(columns), tuple(rows), sheet=sheet)


class CarrierWhatifReport(Report):
    """Per configured carrier: what the month's outbound calls would cost on its tariff; cheapest carrier per destination."""

    name = "carrier-whatif"
    title = "Carrier what-if and least-cost routing"

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
            Figure("Outbound calls", int(actual["calls"]), "count"),
            Figure("Minutes", actual["minutes"], "minutes"),
            Figure("Actual cost", actual["cost"], "money"),
            Figure("Actual: not priced", int(actual["unrated_calls"]), "count"),
            Figure("Cheapest carrier (all calls)", best["carrier"] if best is not None else None, "text"),
            Figure("Its cost", best["cost"] if best is not None else None, "money"),
            Figure("Its saving vs actual", -best["delta_vs_actual"]
                   if best is not None and best["delta_vs_actual"] is not None else None, "money"),
            Figure("Least-cost saving by class", sum(routed, Decimal(0)), "money"),
        )
        tables = {
            "whatif": whatif_table(whatif),
            "by_country": _least_cost_table(by_country, carriers, "Least cost by destination country",
                                            "Country", "Least cost by country"),
            "by_class": _least_cost_table(by_class, carriers, "Least cost by destination class", "Class",
                                          "Least cost by class"),
        }
        start, end = month_range(period)
        notes = (
            f"Period {start:%Y-%m-%d} to {end:%Y-%m-%d}, by the UTC date each call started; outbound calls only.",
            "Each carrier prices the same calls from the breakout site each call used, with the same rating "
            "engine as the actual cost.",
            "Calls a carrier cannot price are counted under 'not priced' and left out of its cost, never "
            "priced as 0; Δ vs actual compares only the calls both price (negative = cheaper).",
            "The cheapest carrier of a group is chosen among carriers that price every call of the group; the "
            "least-cost saving adds the classes where it beats today's routing.",
        )
        return ReportData(self.name, self.title, period, ent.currency or currency, ent.scale, headline, tables,
                          notes, primary="whatif")
