"""The department chargeback: what each department, cost centre and client is charged for a month.

Built from :func:`analytics.billing.billing_split` with the chargeback rules of the lake's enterprise
(markups, surcharges, fixed fees inherited down the department hierarchy; fixed trunk charges spread
by talk time).  Renders to ``xlsx`` (``Summary`` with a stacked chart of each department's charges, ``By department``, ``By cost centre``,
``By call type``, ``Trunk charges``), a printable ``html`` page, ``csv``/``txt`` (the by-department
table) and ``json`` (every table, exact decimals).  Every table ends with a Total that is the exact
sum of its lines, and the department and cost-centre totals are the same whole.
"""

from __future__ import annotations

import os

from analytics.reporting import Report, ReportData, ReportTable, TableRow
from analytics.reporting.i18n import N_
from reports.billing_tables import billing_notes, department_table, frame_table, headline, split_for_report

__all__ = ["DepartmentChargebackReport"]


def _trunk_table(split) -> ReportTable:
    columns = (("name", N_("Trunk charge"), "text"), ("match", N_("Trunks"), "text"), ("pbx", N_("PBX"), "text"),
               ("calls", N_("Calls"), "count"), ("minutes", N_("Minutes"), "minutes"), ("amount", N_("Amount"), "money"),
               ("allocated_to", N_("Allocated to"), "text"))
    rows = [TableRow(r["name"], {"match": r["match"], "pbx": r["pbx"], "calls": r["calls"],
                                 "minutes": split.minutes(r["seconds"]), "amount": split.to_decimal(r["amount"]),
                                 "allocated_to": r["allocated_to"]})
            for r in split.trunk_charges.to_dict("records")]
    tc = split.trunk_charges
    rows.append(TableRow("Total", {"match": "", "pbx": "", "calls": int(tc["calls"].sum()),
                                   "minutes": split.minutes(tc["seconds"].sum()),
                                   "amount": split.to_decimal(tc["amount"].sum()), "allocated_to": ""}, "total"))
    return ReportTable("Trunk charges", columns, tuple(rows))


class DepartmentChargebackReport(Report):
    """Chargeback by department and cost centre for one calendar month (UTC date partitions)."""

    name = "department-chargeback"
    title = N_("Department chargeback")
    formats = ("xlsx", "html", "csv", "json", "txt")

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        split = split_for_report(lake, period, currency, self.config)
        types = split.by_call_type()
        tables = {
            "departments": department_table(split),
            "cost_centers": frame_table(split, split.cost_centers().reset_index(), "By cost centre",
                                        ("cost_center", N_("Cost centre"))),
            "call_types": frame_table(split, types.reset_index(), "By call type", ("call_type", N_("Call type")),
                                      cells=True),
            "trunk_charges": _trunk_table(split),
        }
        return ReportData(name=self.name, title=self.title, period=period, currency=split.currency or currency,
                          scale=split.scale, headline=headline(split), tables=tables, notes=billing_notes(split),
                          primary="departments", template="department_chargeback.html.j2")
