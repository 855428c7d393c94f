"""Plotly figures for the tables of :mod:`analytics.breakdowns` and :mod:`analytics.timeseries`.

A figure takes the *table* (not the selection), so what is drawn is exactly what the notebook shows
next to it, and a test can compare the two.  Decimals become floats here and only here: a chart
draws, it does not account.  (Savings by a dimension: :func:`analytics.savings.savings_figure`.)

    >>> from analytics.charts import daily_figure          # doctest: +SKIP
    >>> daily_figure(daily_savings(sel)).show()            # doctest: +SKIP
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

__all__ = ["daily_figure", "heatmap_figure", "mix_figure", "top_figure"]

_LAYOUT = {"margin": {"l": 60, "r": 20, "t": 50, "b": 50}, "legend": {"orientation": "h", "y": -0.2}}


def _floats(values: pd.Series) -> list[float]:
    return [float(v) for v in values]


def _unit(currency: str | None) -> str:
    return f" ({currency})" if currency else ""


def daily_figure(daily: pd.DataFrame, *, currency: str | None = None) -> go.Figure:
    """Bars of actual cost and savings per day, with the cumulative savings as a line (right axis).

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.timeseries import daily_savings
        from analytics.charts import daily_figure
        daily_figure(daily_savings(select(open_enterprise(), "2026-10")), currency="USD")
    """
    days = [str(d) for d in daily.index]
    fig = go.Figure()
    fig.add_bar(x=days, y=_floats(daily["actual_cost"]), name="Actual cost", marker_color="#3b6ea5")
    fig.add_bar(x=days, y=_floats(daily["savings"]), name="Savings", marker_color="#2e8b57")
    fig.add_scatter(x=days, y=_floats(daily["cumulative_savings"]), name="Cumulative savings", yaxis="y2",
                    mode="lines", line={"color": "#c0392b"})
    unit = _unit(currency)
    fig.update_layout(barmode="stack", title=f"Cost and savings per day (UTC){unit}", xaxis_title="day",
                      yaxis_title=f"per day{unit}",
                      yaxis2={"title": f"cumulative{unit}", "overlaying": "y", "side": "right"}, **_LAYOUT)
    return fig


def top_figure(top: pd.DataFrame, value: str = "actual_cost", *, label: str | None = None,
               currency: str | None = None) -> go.Figure:
    """Horizontal bars of *value* for a top-N table (:func:`~analytics.breakdowns.top_destinations`,
    :func:`~analytics.breakdowns.top_talkers`), the top entry at the top.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import top_talkers
        from analytics.charts import top_figure
        top_figure(top_talkers(select(open_enterprise(), "2026-10")), "actual_cost", currency="USD")
    """
    label = label or next(c for c in ("destination", "extension") if c in top.columns)
    names = [str(v) for v in top[label]][::-1]
    unit = _unit(currency) if value in ("actual_cost", "reference_cost", "savings") else ""
    fig = go.Figure(go.Bar(x=_floats(top[value])[::-1], y=names, orientation="h", marker_color="#3b6ea5"))
    fig.update_layout(title=f"Top {len(top)} {label}s by {value.replace('_', ' ')}{unit}",
                      xaxis_title=value.replace("_", " ") + unit, yaxis={"type": "category"}, **_LAYOUT)
    return fig


def mix_figure(mix: pd.DataFrame, value: str = "calls") -> go.Figure:
    """A donut of the call-type mix (:func:`~analytics.breakdowns.call_type_mix`) by *value*.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.breakdowns import call_type_mix
        from analytics.charts import mix_figure
        mix_figure(call_type_mix(select(open_enterprise(), "2026-10")), "minutes")
    """
    fig = go.Figure(go.Pie(labels=[str(i) for i in mix.index], values=_floats(mix[value]), hole=0.45, sort=False))
    fig.update_layout(title=f"Call-type mix by {value.replace('_', ' ')}", **_LAYOUT)
    return fig


def heatmap_figure(grid: pd.DataFrame, *, title: str = "Calls by weekday and hour (site local time)") -> go.Figure:
    """The weekday × hour table of :func:`~analytics.timeseries.hourly_heatmap` as a heatmap.

    Example::

        from analytics.notebook import open_enterprise
        from analytics.selection import select
        from analytics.timeseries import hourly_heatmap
        from analytics.charts import heatmap_figure
        heatmap_figure(hourly_heatmap(select(open_enterprise(), "2026-10")))
    """
    z = [[float(v) for v in row] for row in grid.to_numpy()]
    fig = go.Figure(go.Heatmap(z=z, x=[int(h) for h in grid.columns], y=[str(d) for d in grid.index],
                               colorscale="Blues"))
    fig.update_layout(title=title, xaxis_title="hour (local)", yaxis={"autorange": "reversed"},
                      margin=_LAYOUT["margin"])
    return fig
