"""Plotly figures of page tables, money labelled as money: exact text in hover labels, currency on axes.

Plotly draws with floats — a bar's height is ``float(Decimal)`` here and only here — but what a
reader *reads* (the hover label) is the exact text from :mod:`dashboards.format`, carried in
``customdata``, and the money axis is titled and prefixed with the currency.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboards.format import money_text, text_of

__all__ = ["bars", "empty_figure", "heatmap", "line", "pie"]

COLOURS = {"reference_cost": "#9aa5b1", "actual_cost": "#3b6ea5", "savings": "#2e8b57", "cost": "#3b6ea5",
           "calls": "#3b6ea5", "minutes": "#6c5b7b", "peak": "#c0392b"}
_LAYOUT = {"template": "plotly_white", "margin": {"l": 50, "r": 10, "t": 40, "b": 40}, "height": 360,
           "legend": {"orientation": "h", "y": -0.25}, "autosize": True}


def _floats(values: Sequence[object]) -> list[float]:
    return [0.0 if v is None else float(v) for v in values]


def _texts(values: Sequence[object], kind: str, currency: str | None, scale: int) -> list[str]:
    return [money_text(v, currency, scale) if kind == "money" else text_of(v, kind) for v in values]


def bars(labels: Sequence[object], series: Sequence[tuple[str, str, Sequence[object]]], *, kind: str = "money",
         currency: str | None = None, scale: int = 2, title: str = "", horizontal: bool = False) -> go.Figure:
    """Grouped bars: *series* is ``(name, colour key, values)``; hover shows each value's exact text."""
    fig = go.Figure()
    names = [str(x) for x in labels]
    for name, key, values in series:
        vals = _floats(values)
        common = {"name": name, "marker_color": COLOURS.get(key, "#3b6ea5"),
                  "customdata": _texts(values, kind, currency, scale)}
        if horizontal:
            fig.add_bar(x=vals, y=names, orientation="h", hovertemplate="%{y}: %{customdata}<extra>" + name + "</extra>",
                        **common)
        else:
            fig.add_bar(x=names, y=vals, hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>", **common)
    axis = {"title": currency if kind == "money" and currency else None,
            "tickprefix": f"{currency} " if kind == "money" and currency else None,
            "separatethousands": True}
    value_axis = "xaxis" if horizontal else "yaxis"
    fig.update_layout(barmode="group", title=title, **{value_axis: axis}, **_LAYOUT)
    if horizontal:
        fig.update_layout(yaxis={"type": "category", "autorange": "reversed"})
    else:
        fig.update_layout(xaxis={"type": "category"})
    return fig


def line(x: Sequence[object], series: Sequence[tuple[str, str, Sequence[object]]], *, kind: str = "money",
         currency: str | None = None, scale: int = 2, title: str = "", shape: str = "linear") -> go.Figure:
    fig = go.Figure()
    for name, key, values in series:
        fig.add_scatter(x=[str(v) for v in x], y=_floats(values), name=name, mode="lines+markers",
                        line={"color": COLOURS.get(key, "#3b6ea5"), "shape": shape},
                        customdata=_texts(values, kind, currency, scale),
                        hovertemplate="%{x}: %{customdata}<extra>" + name + "</extra>")
    fig.update_layout(title=title, yaxis={"tickprefix": f"{currency} " if kind == "money" and currency else None,
                                          "title": currency if kind == "money" else None}, **_LAYOUT)
    return fig


def pie(labels: Sequence[object], values: Sequence[object], *, title: str = "") -> go.Figure:
    fig = go.Figure(go.Pie(labels=[str(v) for v in labels], values=_floats(values), hole=0.45, sort=False,
                           customdata=_texts(values, "count", None, 0),
                           hovertemplate="%{label}: %{customdata} (%{percent})<extra></extra>"))
    fig.update_layout(title=title, **_LAYOUT)
    return fig


def heatmap(z: Sequence[Sequence[object]], x: Sequence[object], y: Sequence[object], *, kind: str = "count",
            currency: str | None = None, scale: int = 2, title: str = "") -> go.Figure:
    text = [_texts(row, kind, currency, scale) for row in z]
    fig = go.Figure(go.Heatmap(z=[_floats(row) for row in z], x=list(x), y=[str(v) for v in y], colorscale="Blues",
                               customdata=text, hovertemplate="%{y} %{x}: %{customdata}<extra></extra>"))
    fig.update_layout(title=title, yaxis={"autorange": "reversed", "type": "category"}, **_LAYOUT)
    return fig


def empty_figure(message: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=message, xaxis={"visible": False}, yaxis={"visible": False}, **_LAYOUT)
    return fig
