"""Top-N: the extensions (or destinations, departments, sites, countries) that cost the most, talk
the most or call the most in a month.

Parameters (``--param KEY=VALUE``, or ``params`` in a schedule): ``by`` = ``cost`` (actual cost of
rated calls, default), ``minutes`` or ``count``; ``n`` = how many (default 20); ``of`` = ``extension``
(default), ``destination`` (the far-end E.164 number), ``department``, ``site`` or ``country``.

Ties are broken by the group's name, so the list is the same on every run.  The groups outside the
top N are one ``All others`` line, so the Total is still the month's total.
"""

from __future__ import annotations

import os
from decimal import Decimal

from analytics.calls import month_range
from analytics.reporting import Figure, Report, ReportData, ReportError, ReportTable, TableRow
from reports.figures import BREAKDOWN_COLUMNS, figure_values, grouped, month_calls, pct, rate, total_row

__all__ = ["TopNReport"]

#: ``of`` → (SQL expression, label header).
DIMENSIONS = {
    "extension": ("extension", "Extension"), "destination": ("connected_number_e164", "Destination"),
    "department": ("department", "Department"), "site": ("site", "Site"), "country": ("dest_country", "Country"),
}
#: ``of`` → plural, for titles.
PLURALS = {"extension": "extensions", "destination": "destinations", "department": "departments", "site": "sites",
           "country": "countries"}
#: ``by`` → (sort column, headline word).
METRICS = {"cost": ("actual_cost", "cost"), "minutes": ("seconds", "minutes"), "count": ("calls", "calls")}


class TopNReport(Report):
    """The N largest groups by cost, minutes or call count, with an All others line and the Total."""

    name = "top-n"
    title = "Top N"
    params = {"by": "cost | minutes | count (default cost)", "n": "how many (default 20)",
              "of": "extension | destination | department | site | country (default extension)"}

    def _options(self) -> tuple[str, int, str]:
        by = self.options.get("by", "cost")
        of = self.options.get("of", "extension")
        if by not in METRICS:
            raise ReportError(f"top-n: by='{by}' is not one of {', '.join(METRICS)}")
        if of not in DIMENSIONS:
            raise ReportError(f"top-n: of='{of}' is not one of {', '.join(DIMENSIONS)}")
        try:
            n = int(self.options.get("n", 20))
            if n < 1:
                raise ValueError
        except ValueError:
            raise ReportError(f"top-n: n='{self.options.get('n')}' is not a positive whole number") from None
        return by, n, of

    def build(self, lake: str | os.PathLike[str], period: str, currency: str) -> ReportData:
        by, n, of = self._options()
        expr, header = DIMENSIONS[of]
        month = month_calls(lake, period, currency)
        df = grouped(month, [expr])
        sort_col = METRICS[by][0]
        if len(df):
            df["_sort"] = [Decimal(v) for v in df[sort_col]]
            df = df.sort_values(["_sort", "k0"], ascending=[False, True], kind="stable")
        total_cost = sum(df["actual_cost"], Decimal(0)) if len(df) else Decimal(0)
        records = df.to_dict("records")
        top = [TableRow(f"{i}. {rec['k0']}", {"rank": i, "key": rec["k0"], **figure_values(rec, total_cost)})
               for i, rec in enumerate(records[:n], start=1)]
        rest = records[n:]
        rows = list(top)
        if rest:
            other = total_row([TableRow("", figure_values(rec)) for rec in rest], f"All others ({len(rest)})")
            seconds = sum(int(r["rated_seconds"]) for r in rest)
            other.values.update({"rank": None, "key": None,
                                 "cost_per_minute": rate(other.values["actual_cost"], seconds),
                                 "cost_share": pct(other.values["actual_cost"], total_cost)})
            rows.append(TableRow(other.label, other.values, "other"))
        total = total_row([TableRow("", figure_values(rec)) for rec in records])
        seconds = int(df["rated_seconds"].sum()) if len(df) else 0
        total.values.update({"rank": None, "key": None, "cost_per_minute": rate(total.values["actual_cost"], seconds),
                             "cost_share": pct(total.values["actual_cost"], total_cost)})
        rows.append(total)
        word = METRICS[by][1]
        title = f"Top {n} {PLURALS[of]} by {word}"
        top_share = pct(sum((r.values["actual_cost"] for r in top), Decimal(0)), total_cost)
        headline = (
            Figure(f"{PLURALS[of].capitalize()} with calls", len(records), "count"),
            Figure("Calls", total.values["calls"], "count"), Figure("Minutes", total.values["minutes"], "minutes"),
            Figure("Actual cost", total.values["actual_cost"], "money"),
            Figure(f"Top {n} share of cost", top_share, "percent"),
            Figure("Unrated calls (not priced)", total.values["unrated_calls"], "count"),
        )
        chart = {"cost": ("actual_cost",), "minutes": ("minutes",), "count": ("calls",)}[by]
        table = ReportTable(title, (("label", header, "text"), *BREAKDOWN_COLUMNS), tuple(rows), chart=chart,
                            sheet=f"Top {n} by {word}")
        start, end = month_range(period)
        notes = (f"Period {start:%Y-%m-%d} to {end:%Y-%m-%d}, by the UTC date each call started.",
                 f"Ranked by {word}, ties by name; '(none)' = calls with no {of} recorded.",
                 "Costs cover rated calls; unrated calls are counted apart, never as cost 0.")
        return ReportData(self.name, title, period, month.currency or currency,
                          month.scale, headline, {"top": table}, notes, primary="top",
                          extra={"by": by, "n": n, "of": of})
