"""Who is asking: dashboard sign-in, API bearer tokens, and what each user may see.

The credentials themselves live in :mod:`warehouse.users`; this package puts them in front of the
Flask server the Dash app runs on:

* :func:`dashboards.auth.login.protect` — sign-in page, sign-out, server-side sessions that expire,
  rate-limited and CSRF-protected sign-in, and a guard in front of every page, Dash callback and download;
* :func:`dashboards.auth.tokens.bearer_scope` — the ``authenticate`` the REST API (``dashboards.api``)
  calls with each request: ``Authorization: Bearer TOKEN`` → the user's scope, or :class:`Unauthorized`;
* :mod:`dashboards.auth.scoping` — the one place that turns a user into a
  :class:`~dashboards.filters.Scope` and refuses a URL naming a site or department outside it.
"""

from __future__ import annotations

from warehouse.errors import CallcostError

__all__ = ["Forbidden", "Unauthorized"]


class Unauthorized(CallcostError):
    """No valid credentials (a missing, wrong, expired or revoked token; no session): HTTP 401."""

    status_code = 401


class Forbidden(CallcostError):
    """Valid credentials asking for something outside the user's scope: HTTP 403."""

    status_code = 403
