"""Sign-in in front of the Dash app: :func:`protect` wraps an app built by :func:`dashboards.app.create_app`.

    >>> store = UserStore("sqlite:///callcost.db")                                  # doctest: +SKIP
    >>> app = create_app(lake, "USD", ent, scope_for=current_scope)                 # doctest: +SKIP
    >>> protect(app, store, lifetime=timedelta(hours=8), secure=False)              # doctest: +SKIP

What it adds to the Flask server under the app:

* ``GET/POST /login`` — a plain HTML form (no Dash, no JavaScript), CSRF-protected by a double-submit
  token (a random cookie echoed in the form), rate-limited per user name and per address
  (:class:`~dashboards.auth.ratelimit.RateLimiter`; HTTP 429 with ``Retry-After``);
* ``GET/POST /logout`` — the GET shows a button whose POST carries the session's CSRF token;
* a guard before every other request: without a live session a page is redirected to ``/login`` and
  anything else (Dash's ``/_dash-*`` routes and assets, downloads) gets 401; a download naming a site or
  department outside a manager's scope gets 403 (:func:`dashboards.auth.scoping.refusals`); a POST from
  another origin gets 403.  ``/api/`` is left to the REST API, which authenticates every call itself
  with :func:`dashboards.auth.tokens.bearer_scope`.

Sessions are server-side (``web_sessions``): the cookie holds a random id, HttpOnly, SameSite=Lax,
Secure when *secure* (served over TLS), and the session ends after *lifetime* whatever the cookie says.
With no user in the database and *open_when_empty* (a loopback address: ``callcost dashboard`` refuses
any other without users) everything is served without sign-in, as before users existed.
"""

from __future__ import annotations

import html
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import flask
from dash import Dash, html as dhtml

from dashboards.auth import Unauthorized
from dashboards.auth.ratelimit import RateLimiter
from dashboards.auth.scoping import refusals, scope_of
from dashboards.auth.tokens import STORE_KEY
from analytics.reporting.i18n import Msg, N_, Translator, translator
from dashboards.filters import Scope
from dashboards.i18n import request_lang
from warehouse.users import Session, UserStore, same_secret

__all__ = ["COOKIE", "CSRF_COOKIE", "current_scope", "current_user", "protect"]

COOKIE = "callcost_session"
CSRF_COOKIE = "callcost_csrf"
#: Paths the guard lets through: the sign-in page itself and the API (which checks bearer tokens).
_OPEN_PREFIXES = ("/api/",)
_OPEN_PATHS = ("/login",)

_PAGE = """<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>callcost — {title}</title>
<style>body{{font-family:-apple-system,"Segoe UI",Roboto,Arial,sans-serif;background:#f5f7f9;color:#1b2733;margin:0}}
header{{background:#1f3b5a;color:#fff;padding:.6rem 1rem}} h1{{font-size:1.2rem;margin:0}}
main{{max-width:22rem;margin:2rem auto;background:#fff;border:1px solid #d5dbe1;border-radius:6px;padding:1rem 1.2rem}}
label{{display:block;font-size:.85rem;color:#5b6875;margin:.6rem 0 .2rem}}
input[type=text],input[type=password]{{width:100%;height:36px;border:1px solid #ccc;border-radius:4px;padding:0 .4rem}}
button{{margin-top:1rem;height:36px;padding:0 1.2rem;background:#1f3b5a;color:#fff;border:0;border-radius:4px}}
.error{{background:#fdecea;border:1px solid #e0a39c;color:#8a1f11;padding:.5rem .8rem;border-radius:4px}}</style>
</head><body><header><h1>callcost</h1></header><main>{body}</main></body></html>"""


def current_user():
    """The signed-in :class:`~warehouse.users.User` of this request (None when the server is open)."""
    session: Session | None = flask.g.get("callcost_session")
    return session.user if session is not None else None


def current_scope() -> Scope | None:
    """The ``scope_for`` of :func:`dashboards.app.create_app`: the signed-in user's scope.

    Fails closed: outside a signed-in request (and not an open server) it raises :class:`Unauthorized`
    rather than answer "everything"."""
    if flask.g.get("callcost_open"):
        return None
    session: Session | None = flask.g.get("callcost_session")
    if session is None:
        raise Unauthorized("not signed in")
    return scope_of(session.user)


def _reader() -> Translator:
    """The language of this request (``?lang=``, the dashboard's language cookie, ``Accept-Language``)."""
    req = flask.request
    return translator(request_lang(req.args, req.cookies, req.headers.get("Accept-Language")))


def _page(title: str, body: str, status: int = 200, headers: dict[str, str] | None = None) -> flask.Response:
    tr = _reader()
    return flask.Response(_PAGE.format(lang=tr.lang.replace("_", "-"), title=html.escape(tr.text(title)), body=body),
                          status=status, mimetype="text/html",
                          headers={"Cache-Control": "no-store", "Content-Language": tr.lang.replace("_", "-"),
                                   **(headers or {})})


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this server only (``//evil`` and ``https://…`` become ``/``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _login_form(csrf: str, next_url: str, name: str = "", error: str | None = None) -> str:
    tr = _reader()
    t = lambda message: html.escape(tr.text(message))  # noqa: E731
    err = f'<p class="error" id="login-error">{t(error)}</p>' if error else ""
    return (f'<h2>{t(SIGN_IN)}</h2>{err}<form method="post" action="/login" id="login-form">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<input type="hidden" name="next" value="{html.escape(next_url)}">'
            f'<label for="username">{t(N_("User name"))}</label><input type="text" id="username" name="username" '
            f'value="{html.escape(name)}" autocomplete="username" required autofocus>'
            f'<label for="password">{t(N_("Password"))}</label><input type="password" id="password" '
            f'name="password" autocomplete="current-password" required>'
            f'<button type="submit" id="login-submit">{t(SIGN_IN)}</button></form>')


SIGN_IN = N_("Sign in")
SIGN_OUT = N_("Sign out")


def protect(app: Dash, store: UserStore, *, lifetime: timedelta = timedelta(hours=8), secure: bool = False,
            limiter: RateLimiter | None = None, open_when_empty: bool = False) -> Dash:
    """Require sign-in for everything *app* serves (see the module doc); returns *app*."""
    server: flask.Flask = app.server
    server.extensions[STORE_KEY] = store
    limiter = limiter or RateLimiter()
    cookie_args = {"httponly": True, "samesite": "Lax", "secure": secure, "path": "/"}
    users_seen = _UserCount(store)

    def set_session_cookie(resp: flask.Response, sid: str) -> None:
        resp.set_cookie(COOKIE, sid, max_age=int(lifetime.total_seconds()), **cookie_args)

    @server.before_request
    def _guard():
        flask.g.callcost_open = False
        path = flask.request.path
        if path in _OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
            return None
        if open_when_empty and users_seen.none():
            flask.g.callcost_open = True
            return None
        session = store.session(flask.request.cookies.get(COOKIE))
        if session is None:
            wants_page = "text/html" in (flask.request.headers.get("Accept") or "")
            if flask.request.method == "GET" and wants_page and not path.startswith(("/_dash-", "/download/")):
                target = flask.request.full_path if flask.request.query_string else path
                return flask.redirect("/login?" + urlencode({"next": target}), code=303)
            return flask.Response("sign in first (/login)", status=401, mimetype="text/plain")
        flask.g.callcost_session = session
        if flask.request.method != "GET" and not _same_origin(flask.request):
            return flask.Response("refused: a request from another site", status=403, mimetype="text/plain")
        if path.startswith("/download/"):
            problems = refusals(flask.request.args, scope_of(session.user))
            if problems:
                return flask.Response("\n".join(problems), status=403, mimetype="text/plain")
        return None

    @server.after_request
    def _headers(resp: flask.Response) -> flask.Response:
        resp.headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of the sign-in or sign-out form
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        return resp

    @server.route("/login", methods=["GET", "POST"])
    def _login():
        req = flask.request
        if req.method == "GET":
            # one token per browser, reused: a second tab (or the favicon's redirect) must not void the first form
            csrf = req.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
            resp = _page(SIGN_IN, _login_form(csrf, _safe_next(req.args.get("next"))))
            resp.set_cookie(CSRF_COOKIE, csrf, **cookie_args)
            return resp
        name, password = (req.form.get("username") or "").strip(), req.form.get("password") or ""
        next_url = _safe_next(req.form.get("next"))
        csrf = req.cookies.get(CSRF_COOKIE)
        if not same_secret(csrf, req.form.get("csrf")):
            return _page(SIGN_IN, _login_form(csrf or "", next_url, name, N_(
                "The form expired or came from another site: sign in again from this page.")), status=403)
        address = req.remote_addr or "?"
        wait = limiter.retry_after(name, address)
        if wait:
            return _page(SIGN_IN, _login_form(csrf, next_url, name, Msg(
                "Too many failed sign-ins: try again in {seconds} s.", seconds=wait)),
                status=429, headers={"Retry-After": str(wait)})
        user = store.check_password(name, password)
        if user is None:
            limiter.failed(name, address)
            return _page(SIGN_IN, _login_form(csrf, next_url, name, N_("Wrong user name or password.")), status=401)
        limiter.succeeded(name)
        sid, _ = store.new_session(user, lifetime)
        resp = flask.redirect(next_url, code=303)
        set_session_cookie(resp, sid)
        resp.delete_cookie(CSRF_COOKIE, path="/")
        return resp

    @server.route("/logout", methods=["GET", "POST"])
    def _logout():
        session: Session | None = flask.g.get("callcost_session")
        if session is None:  # an open server: nobody to sign out
            return flask.redirect("/", code=303)
        if flask.request.method == "GET":
            tr = _reader()
            who = tr.text(Msg("Signed in as {name} ({role}).", name=session.user.name, role=session.user.role))
            return _page(SIGN_OUT, f'<h2>{html.escape(tr.text(SIGN_OUT))}</h2><p>{html.escape(who)}</p>'
                                   f'<form method="post" action="/logout">'
                                   f'<input type="hidden" name="csrf" value="{html.escape(session.csrf)}">'
                                   f'<button type="submit" id="logout-submit">{html.escape(tr.text(SIGN_OUT))}</button>'
                                   '</form>')
        if not same_secret(session.csrf, flask.request.form.get("csrf")):
            return flask.Response("refused: the sign-out form expired or came from another site", status=403,
                                  mimetype="text/plain")
        store.end_session(flask.request.cookies.get(COOKIE))
        resp = flask.redirect("/login", code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    _add_user_bar(app)
    return app


def _add_user_bar(app: Dash) -> None:
    """Who is signed in and a sign-out link above every page (the layout becomes a function of the request)."""
    base = app.layout

    def layout():
        user = current_user() if flask.has_request_context() else None
        if user is None:
            return base
        scope = scope_of(user)
        tr = _reader()
        seen = tr.text(N_("everything")) if scope is None else ", ".join(
            sorted((scope.sites or set()) | (scope.departments or set())))
        bar = dhtml.Div(id="user-bar", style={"textAlign": "right", "fontSize": ".8rem", "padding": ".2rem 1rem"},
                        children=[f"{user.name} ({user.role}: {seen}) · ",
                                  dhtml.A(tr.text(SIGN_OUT), href="/logout", id="logout-link")])
        return dhtml.Div([bar, base])

    app.layout = layout


def _same_origin(req: flask.Request) -> bool:
    """False when the browser says the request comes from another origin (``Origin``/``Referer``)."""
    origin = req.headers.get("Origin") or req.headers.get("Referer")
    if not origin or origin == "null":
        return origin != "null"
    parts = urlsplit(origin)
    return parts.netloc == req.host


class _UserCount:
    """Whether the database has no user yet, re-read at most every few seconds (it is asked on every request)."""

    def __init__(self, store: UserStore, every_s: float = 2.0) -> None:
        self.store, self.every_s, self._at, self._empty = store, every_s, -1e9, True

    def none(self) -> bool:
        now = time.monotonic()
        if now - self._at > self.every_s:
            self._empty, self._at = self.store.count() == 0, now
        return self._empty

