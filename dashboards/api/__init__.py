"""The REST API under ``/api/v1/`` on the dashboard's own server: JSON, money as exact decimal strings.

    >>> register_api(app.server, ctx=app._callcost_ctx, authenticate=bearer_scope, refusals=refusals)  # doctest: +SKIP

:func:`dashboards.auth.serving.dashboard_server` calls it after the sign-in guard, which lets ``/api/``
through: every route here authenticates itself (``Authorization: Bearer TOKEN`` through
*authenticate*), except ``/health`` and ``/openapi.json``.  For each request, in this order:

1. the token → the caller's scope, or 401 with ``WWW-Authenticate: Bearer`` (missing, wrong, expired,
   revoked: *authenticate* raises an error whose ``status_code`` is 401);
2. the parameters checked against their declaration (:mod:`dashboards.api.spec`) → 400 naming the
   parameter (unknown name, malformed value, SQL metacharacters, a ``limit`` too large);
3. a site or department outside the scope → 403 (*refusals*: :func:`dashboards.auth.scoping.refusals`);
4. the handler (:mod:`dashboards.api.routes`) computes within the scope; a filter value nothing
   knows is a 400 too, found before any figure is read.

Why *authenticate* and *refusals* are passed in rather than imported: ``dashboards.auth`` assembles the
server and calls this, so the API importing ``dashboards.auth`` would be an import loop (the
``acyclic_siblings`` contract in ``pyproject.toml``); the auth layer hands over who is asking and what
they may not ask for.

Modules: ``spec`` (the endpoints, once, and OpenAPI from them), ``params`` (validation, cursors),
``selection`` (parameters → scoped selection), ``routes`` (handlers), ``encode`` (JSON values),
``reports`` (a report scoped to the caller), ``health``.  Docs: ``docs/api.md``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

import flask

from dashboards.api.params import BadParameter, parse
from dashboards.api.reports import UnknownReport
from dashboards.api.routes import HANDLERS, json_response
from dashboards.api.spec import API_PREFIX, ENDPOINTS, Endpoint
from dashboards.filters import Scope
from dashboards.pages import PageContext
from warehouse.errors import CallcostError

__all__ = ["ENDPOINTS", "register_api"]

log = logging.getLogger("callcost.api")

Authenticate = Callable[[flask.Request], Scope | None]
Refusals = Callable[[Mapping[str, str], Scope | None], list[str]]


def _error(status: int, message: str, parameter: str | None = None, headers: dict[str, str] | None = None):
    body = {"error": message, "status": status, **({"parameter": parameter} if parameter else {})}
    return json_response(body, status, headers)


def _view(e: Endpoint, ctx: PageContext, authenticate: Authenticate, refusals: Refusals):
    handler = HANDLERS[e.name]
    scoped = [p.name for p in e.params if p.scoped]

    def view(**path_args: str) -> flask.Response:
        req = flask.request
        try:
            scope = authenticate(req) if e.auth else None
        except CallcostError as exc:
            if getattr(exc, "status_code", None) != 401:
                raise
            challenge = 'Bearer realm="callcost"' + (', error="invalid_token"' if req.headers.get("Authorization")
                                                     else "")
            return _error(401, str(exc), headers={"WWW-Authenticate": challenge})
        try:
            args = parse(e, req.args, path_args)
            problems = refusals({k: args[k] for k in scoped if k in args}, scope)
            if problems:
                return _error(403, "; ".join(problems))
            return handler(ctx, args, scope)
        except BadParameter as exc:
            return _error(400, str(exc), exc.parameter)
        except UnknownReport as exc:
            return _error(exc.status_code, str(exc))
        except CallcostError as exc:  # a period or filter analytics refused: the caller's to fix
            return _error(400, str(exc))
        except Exception:  # a bug: logged with its traceback, answered without one
            log.exception("API %s failed", req.full_path)
            return _error(500, "internal error (logged on the server)")

    view.__name__ = f"api_{e.name}"
    return view


def register_api(server: flask.Flask, *, ctx: PageContext, authenticate: Authenticate, refusals: Refusals) -> None:
    """Add every endpoint of :data:`ENDPOINTS` to *server*, answering from *ctx* (the dashboard's context and
    cache) for the scope *authenticate* gives each request; *refusals* (query, scope) says why a request
    names more than the scope allows (each reason a 403)."""
    missing = [e.name for e in ENDPOINTS if e.name not in HANDLERS]
    if missing:
        raise RuntimeError(f"API endpoints declared without a handler: {', '.join(missing)}")
    for e in ENDPOINTS:
        server.add_url_rule(e.rule, endpoint=f"api_{e.name}", view_func=_view(e, ctx, authenticate, refusals),
                            methods=["GET"])
    _json_routing_errors(server)


def _json_routing_errors(server: flask.Flask) -> None:
    """Anything else under ``/api/`` — no such route (404), or not a GET (405) — answers JSON like every other
    API error.  Without this rule Dash's catch-all (``/<path:path>``, the single-page app's shell) would
    answer an API typo with an HTML page and 200, behind no guard since the guard leaves ``/api/`` alone."""
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]

    def unknown(rest: str) -> flask.Response:
        path, method = flask.request.path, flask.request.method
        try:
            endpoint, _ = server.url_map.bind("localhost").match(path, method="GET")
        except Exception:  # werkzeug's NotFound / RequestRedirect: no GET route here either
            endpoint = None
        if method != "GET" and endpoint is not None and endpoint != "api_unknown":
            return _error(405, f"the API answers GET only, not {method} {path}", headers={"Allow": "GET"})
        return _error(404, f"no such API route: {path} (see {API_PREFIX}/openapi.json)")

    server.add_url_rule("/api/<path:rest>", endpoint="api_unknown", view_func=unknown, methods=methods)
