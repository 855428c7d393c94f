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
from analytics.reporting.i18n import N_, Msg
from reports.figures import BREAKDOWN_COLUMNS, figure_values, grouped, month_calls, pct, rate, total_row

__all__ = ["TopNReport"]

#: ``of`` → (SQL expression, label header).
DIMENSIONS = {
    "extension": ("extension", N_("Extension")), "destination": ("connected_number_e164", N_("Destination")),
    "department": ("department", N_("Department")), "site": ("site", N_("Site")), "country": ("dest_country", N_("Country")),
}
#: ``of`` → plural, for titles.
PLURALS = {"extension": N_("extensions"), "destination": N_("destinations"), "department": N_("departments"),
           "site": N_("sites"), "country": N_("countries")}
#: The plurals starting a headline label ("Extensions with calls"): message ids of their own.
_CAPITALISED = (N_("Extensions"), N_("Destinations"), N_("Departments"), N_("Sites"), N_("Countries"))
#: ``by`` → (sort column, headline word).
METRICS = {"cost": ("actual_cost", N_("cost")), "minutes": ("seconds", N_("minutes")), "count": ("calls", N_("calls"))}


class TopNReport(Report):
    """The N largest groups by cost, minutes or call count, with an All others line and the Total."""

    name = "top-n"
    title = N_("Top N")
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
            other = total_row([TableRow("", figure_values(rec)) for rec in rest], Msg("All others ({count})", count=len(rest)))
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
        title = Msg("Top {n} {things} by {word}", n=n, things=PLURALS[of], word=word)
        top_share = pct(sum((r.values["actual_cost"] for r in top), Decimal(0)), total_cost)
        headline = (
            Figure(Msg("{Things} with calls", Things=PLURALS[of].capitalize()), len(records), "count"),
            Figure("Calls", total.values["calls"], "count"), Figure("Minutes", total.values["minutes"], "minutes"),
            Figure("Actual cost", total.values["actual_cost"], "money"),
            Figure(Msg("Top {n} share of cost", n=n), top_share, "percent"),
            Figure("Unrated calls (not priced)", total.values["unrated_calls"], "count"),
        )
        chart = {"cost": ("actual_cost",), "minutes": ("minutes",), "count": ("calls",)}[by]
        table = ReportTable(title, (("label", header, "text"), *BREAKDOWN_COLUMNS), tuple(rows), chart=chart,
                            sheet=Msg("Top {n} by {word}", n=n, word=word))
        start, end = month_range(period)
        notes = (Msg("Period {start} to {end}, by the UTC date each call started.", start=start, end=end),
                 Msg("Ranked by {word}, ties by name; '(none)' = calls with no {of} recorded.", word=word, of=of),
                 N_("Costs cover rated calls; unrated calls are counted apart, never as cost 0."))
        return ReportData(self.name, title, period, month.currency or currency,
                          month.scale, headline, {"top": table}, notes, primary="top",
                          extra={"by": by, "n": n, "of": of})
