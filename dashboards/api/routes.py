"""What each endpoint of :data:`dashboards.api.spec.ENDPOINTS` answers, by name; the figures come from analytics.

Each handler gets the page context, the checked parameters and the caller's scope, and returns a
Flask response.  The figures are the analytics layer's and the dashboard's, never SQL of their own:
``/summary`` is ``analytics.breakdowns.totals_and_breakdown`` (the totals and the sites from one scan of
the lake, equal to ``analytics.summary`` to the cent), ``/savings`` is ``savings_by``, ``/calls`` is
:func:`analytics.keyset.calls_after`, ``/reports`` the registered report types.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import flask

from analytics.breakdowns import savings_by, totals_and_breakdown
from analytics.keyset import calls_after
from dashboards.api.encode import breakdown_rows, figures, table_rows
from dashboards.api.health import health as health_of
from dashboards.api.params import encode_cursor
from dashboards.api.reports import render_report
from dashboards.api.selection import selection_for
from dashboards.api.spec import openapi as openapi_of
from dashboards.filters import Scope
from dashboards.pages import PageContext, selection_key
from warehouse.schema import calls_schema

__all__ = ["HANDLERS", "json_response"]

Handler = Callable[[PageContext, dict[str, Any], Scope | None], flask.Response]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    return flask.Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json",
                          headers={"Cache-Control": "no-store", **(headers or {})})


def _filters(args: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in args.items() if k in ("site", "extension", "call_type")}


def summary(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> flask.Response:
    sel = selection_for(ctx, args, scope)
    # cached by the lake's contents, in the pages' cache: a repeat is a dictionary lookup until calls arrive
    totals, by_site = ctx.cache.get(("api-summary", selection_key(sel)), lambda: totals_and_breakdown(sel, "site"))
    return json_response({"period": args["period"], "currency": ctx.currency, "filters": _filters(args),
                          **figures(totals, ctx.scale), "by_site": breakdown_rows(by_site, "site", ctx.scale)})


def savings(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> flask.Response:
    sel, by = selection_for(ctx, args, scope), args["by"]
    frame = ctx.cache.get(("api-savings", selection_key(sel), by), lambda: savings_by(sel, by))
    return json_response({"period": args["period"], "currency": ctx.currency, "by": by, "filters": _filters(args),
                          "rows": breakdown_rows(frame, by, ctx.scale)})


def calls(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> flask.Response:
    sel = selection_for(ctx, args, scope)
    table, last = calls_after(sel, args.get("cursor"), args["limit"])
    columns = [f.name for f in calls_schema(sel.scale)]
    return json_response({"period": args["period"], "filters": _filters(args), "limit": args["limit"],
                          "calls": table_rows(table, columns), "next_cursor": encode_cursor(last) if last else None})


def report(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> flask.Response:
    sel = selection_for(ctx, {"period": args["period"]}, scope)
    body, media, name = render_report(ctx, args["name"], args["period"], args["format"], sel, scope)
    disposition = "inline" if args["format"] in ("json", "html") else "attachment"
    return flask.Response(body, mimetype=media, headers={"Content-Disposition": f'{disposition}; filename="{name}"',
                                                         "Cache-Control": "no-store"})


def health(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> flask.Response:
    body, status = health_of(ctx)
    return json_response(body, status)


def openapi(ctx: PageContext, args: dict[str, Any], scope: Scope | None) -> flask.Response:
    return json_response(openapi_of())


#: Endpoint name → handler; :func:`dashboards.api.register_api` refuses a declared endpoint without one.
HANDLERS: dict[str, Handler] = {"summary": summary, "savings": savings, "calls": calls, "report": report,
                                "health": health, "openapi": openapi}
