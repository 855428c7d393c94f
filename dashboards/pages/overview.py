"""Overview: the month's headline figures, savings by site as a chart and as a table, a month selector.

``overview_content(lake, period, currency)`` is the whole callback as a plain function; the Dash
callback in ``register_callbacks`` only forwards the selected month to it.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import plotly.graph_objects as go
from dash import Dash, Input, Output, dcc, html

from analytics.calls import available_months
from analytics.savings import Summary, savings_figure, summary
from dashboards import ids
from dashboards.pages import PageContext

PATH = "/"
NAME = "Overview"

#: (label, Summary attribute, kind) of the headline cards, in display order.
CARDS = (("Calls", "calls", "count"), ("Minutes", "minutes", "minutes"), ("Actual cost", "actual_cost", "money"),
         ("Reference cost", "reference_cost", "money"), ("Savings", "savings", "money"))

TABLE_COLUMNS = (("calls", "Calls", "count"), ("minutes", "Minutes", "minutes"),
                 ("actual_cost", "Actual cost", "money"), ("reference_cost", "Reference cost", "money"),
                 ("savings", "Savings", "money"), ("unrated_calls", "Unrated calls", "count"))


def fmt(value: object, kind: str, scale: int = 2) -> str:
    """Display text of a figure; money stays exact (Decimal formatting, no float)."""
    if value is None:
        return "—"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "minutes":
        return f"{Decimal(value):,.0f}"
    return f"{Decimal(value):,.{scale}f}"


def headline_cards(s: Summary, currency: str) -> list[html.Div]:
    """One card per headline figure; money cards carry the currency."""
    cards = []
    for label, attr, kind in CARDS:
        value = [fmt(getattr(s, attr), kind, s.scale)]
        if kind == "money":
            value.append(html.Span(f" {currency}", className="unit"))
        cards.append(html.Div(className=f"card card-{attr}", children=[
            html.Div(label, className="card-label"),
            html.Div(value, className="card-value"),
        ]))
    return cards


def site_table(s: Summary, currency: str) -> html.Table:
    """The by-site breakdown with a total line; unrated calls in their own column, never as cost 0."""
    head = html.Thead(html.Tr([html.Th("Site")] + [
        html.Th(f"{h} ({currency})" if kind == "money" else h) for _, h, kind in TABLE_COLUMNS]))
    rows = [html.Tr([html.Td(str(site))] + [html.Td(fmt(rec[k], kind, s.scale)) for k, _, kind in TABLE_COLUMNS])
            for site, rec in zip(s.by_site.index, s.by_site.to_dict("records"))]
    total = {"calls": s.calls, "minutes": s.minutes, "actual_cost": s.actual_cost,
             "reference_cost": s.reference_cost, "savings": s.savings, "unrated_calls": s.unrated_calls}
    rows.append(html.Tr([html.Td("Total")] + [html.Td(fmt(total[k], kind, s.scale)) for k, _, kind in TABLE_COLUMNS],
                        className="total"))
    return html.Table([head, html.Tbody(rows)], className="figures")


def unrated_note(s: Summary) -> str:
    if not s.unrated_calls:
        return "Every call of the month is priced."
    return (f"{s.unrated_calls:,} call(s) ({fmt(s.unrated_minutes, 'minutes')} min) could not be priced: "
            "they are counted, but left out of the costs and savings above.")


def overview_content(lake: Path, period: str | None, currency: str) -> tuple[list, go.Figure, html.Table, str]:
    """Everything the overview shows for *period*: cards, site chart, site table, unrated note."""
    if not period:
        empty = go.Figure().update_layout(title="No calls in the lake yet")
        return [html.Div("No calls in the lake yet.", className="card")], empty, html.Table(), ""
    s = summary(lake, period)
    figure = savings_figure(s.by_site, by="site", currency=currency)
    figure.update_layout(template="plotly_white", height=380)
    return headline_cards(s, currency), figure, site_table(s, currency), unrated_note(s)


def layout(ctx: PageContext, query: dict[str, str] | None = None) -> html.Div:
    """The page, opened on ``?month=YYYY-MM`` if the lake has it, else on the latest month with calls.

    Months are read anew on every page load, so a new month shows up without a restart.
    """
    months = available_months(ctx.lake)
    wanted = (query or {}).get("month")
    latest = wanted if wanted in months else (months[-1] if months else None)
    return html.Div([
        html.Div(className="toolbar", children=[
            html.H2("Overview"),
            html.Label(["Month ", dcc.Dropdown(id=ids.MONTH, options=[{"label": m, "value": m} for m in reversed(months)],
                                               value=latest, clearable=False, style={"width": "10rem"})],
                       className="month"),
        ]),
        html.Div(id=ids.CARDS, className="cards"),
        html.P(id=ids.UNRATED_NOTE, className="note"),
        dcc.Graph(id=ids.SITE_CHART, config={"displaylogo": False}),
        html.H3("By site"),
        html.Div(id=ids.SITE_TABLE),
    ])


def register_callbacks(app: Dash, ctx: PageContext) -> None:
    @app.callback(Output(ids.CARDS, "children"), Output(ids.SITE_CHART, "figure"), Output(ids.SITE_TABLE, "children"),
                  Output(ids.UNRATED_NOTE, "children"), Input(ids.MONTH, "value"))
    def _update(period: str | None):
        return overview_content(ctx.lake, period, ctx.currency)
