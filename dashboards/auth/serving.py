"""A signed-in dashboard server, assembled: the app, its users, the loopback rule, HTTP or HTTPS.

Why here and not in the CLI: ``callcost dashboard`` and the tests build the very same server, so the
rule "no users → loopback only" is tested where it is enforced.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

from dashboards.api import register_api
from dashboards.app import WsgiServer, create_app
from dashboards.auth.login import current_scope, protect
from dashboards.auth.ratelimit import RateLimiter
from dashboards.auth.scoping import refusals
from dashboards.auth.tls import TlsServer
from dashboards.auth.tokens import bearer_scope
from warehouse.config import Enterprise
from warehouse.errors import CallcostError
from warehouse.users import UserStore

__all__ = ["NoUsersError", "dashboard_server", "is_loopback"]


class NoUsersError(CallcostError):
    """Serving a non-loopback address while no user exists would show every figure to anyone."""


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: only this machine can connect."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard_server(lake: str | os.PathLike[str], currency: str, host: str, port: int, *,
                     database: str, ent: Enterprise | None = None, certfile: Path | None = None,
                     keyfile: Path | None = None, lifetime: timedelta = timedelta(hours=8),
                     limiter: RateLimiter | None = None, threads: int = 8) -> WsgiServer | TlsServer:
    """The dashboard over *lake* behind sign-in against the users of *database*, bound but not yet serving.

    Raises :class:`NoUsersError` for a non-loopback *host* while the database has no user.  With no
    user on a loopback address it serves without sign-in (only this machine can reach it).
    """
    if (certfile is None) != (keyfile is None):
        raise CallcostError("TLS needs both --certfile and --keyfile")
    store = UserStore(database)
    loopback = is_loopback(host)
    if not loopback and store.count() == 0:
        raise NoUsersError(f"refusing to serve the dashboard on {host}: no user exists yet, so anyone reaching the "
                           "port would see every figure. Add one first: callcost users add NAME --role admin "
                           "(or serve on 127.0.0.1)")
    app = create_app(lake, currency, ent, scope_for=current_scope)
    protect(app, store, lifetime=lifetime, secure=certfile is not None, limiter=limiter, open_when_empty=loopback)
    register_api(app.server, ctx=app._callcost_ctx, authenticate=bearer_scope, refusals=refusals)  # /api/v1/
    server = TlsServer(app, host, port, certfile, keyfile, threads) if certfile is not None \
        else WsgiServer(app, host, port, threads)
    server.app = app  # the API (and tests) add routes to app.server before it serves
    return server
