"""``Authorization: Bearer TOKEN`` → the user's scope: what the REST API (``dashboards.api``) authenticates with.

``register_api(server, ctx=ctx, authenticate=bearer_scope)``: the API calls :func:`bearer_scope` with
each request except ``/api/v1/health``, and turns :class:`~dashboards.auth.Unauthorized` (``status_code``
401) into a 401 response.  Tokens come from ``callcost users token NAME``; the store is the one
:func:`dashboards.auth.login.protect` put on the Flask app.
"""

from __future__ import annotations

import flask

from dashboards.auth import Unauthorized
from dashboards.auth.scoping import scope_of
from dashboards.filters import Scope
from warehouse.users import UserStore

__all__ = ["STORE_KEY", "bearer_scope", "bearer_user"]

#: Where :func:`dashboards.auth.login.protect` keeps the :class:`UserStore` on the Flask app.
STORE_KEY = "callcost.users"


def bearer_user(request: flask.Request):
    """The :class:`~warehouse.users.User` whose live token *request* carries; :class:`Unauthorized` otherwise."""
    scheme, _, token = (request.headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("an API call needs 'Authorization: Bearer TOKEN' (callcost users token NAME makes one)")
    store: UserStore | None = flask.current_app.extensions.get(STORE_KEY)
    user = store.token_user(token.strip()) if store is not None else None
    if user is None:
        raise Unauthorized("the bearer token is wrong, expired or revoked")
    return user


def bearer_scope(request: flask.Request) -> Scope | None:
    """The scope of the user whose token *request* carries (``None`` = everything); :class:`Unauthorized`
    for a missing, wrong, expired or revoked token."""
    return scope_of(bearer_user(request))
