"""Sign-in over real HTTP (waitress, and cheroot over TLS): the guard, CSRF, the rate limit, cookies, bearer tokens."""

from __future__ import annotations

import datetime as dt
import ipaddress
import hashlib
import re
from datetime import timedelta

import flask
import pytest
import requests

from dashboards import ids
from dashboards.auth import Unauthorized
from dashboards.auth.ratelimit import RateLimiter
from dashboards.auth.serving import dashboard_server
from dashboards.auth.tokens import bearer_scope
from test_users import PASSWORD, write_enterprise
from warehouse.config import load_config
from warehouse.users import UserStore, api_tokens


def _whoami(server):
    """A stand-in for an API route: what ``dashboards.api`` does with ``authenticate=bearer_scope``."""

    @server.app.server.route("/api/v1/whoami")
    def _whoami_route():
        try:
            scope = bearer_scope(flask.request)
        except Unauthorized as exc:
            return flask.Response(str(exc), status=exc.status_code)
        return flask.jsonify(None if scope is None else sorted(scope.sites or []))


def start(ent, *, limiter=None, **kw):
    server = dashboard_server(ent.storage.lake, "USD", "127.0.0.1", 0, database=ent.storage.database, ent=ent,
                              limiter=limiter or RateLimiter(per_user=50, per_address=500), **kw)
    _whoami(server)
    return server.start()


@pytest.fixture(scope="module")
def ent(tmp_path_factory):
    ent = load_config(write_enterprise(tmp_path_factory.mktemp("login-http")))
    with UserStore(ent.storage.database) as store:
        store.add("root", "admin", PASSWORD)
        store.add("ann", "manager", PASSWORD, sites=["NYC"])
    return ent


@pytest.fixture(scope="module")
def server(ent):
    srv = start(ent)
    yield srv
    srv.shutdown()


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def sign_in(base: str, name: str = "ann", password: str = PASSWORD, **kw) -> tuple[requests.Session, requests.Response]:
    s = requests.Session()
    form = s.get(f"{base}/login", **kw)
    resp = s.post(f"{base}/login", data={"username": name, "password": password, "csrf": csrf_of(form.text),
                                         "next": "/sites?month=2026-10"}, allow_redirects=False, **kw)
    return s, resp


def route_payload(path: str, search: str = "") -> dict:
    return {"output": f"{ids.PAGE}.children", "outputs": {"id": ids.PAGE, "property": "children"},
            "inputs": [{"id": ids.URL, "property": "pathname", "value": path},
                       {"id": ids.URL, "property": "search", "value": search}],
            "changedPropIds": [f"{ids.URL}.pathname"]}


def test_without_a_session_nothing_is_served(server):
    base = server.url
    page = requests.get(f"{base}/sites?site=NYC", allow_redirects=False, headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["Location"] == "/login?next=%2Fsites%3Fsite%3DNYC"
    assert requests.get(f"{base}/_dash-layout").status_code == 401
    assert requests.get(f"{base}/_dash-dependencies").status_code == 401
    assert requests.post(f"{base}/_dash-update-component", json=route_payload("/")).status_code == 401
    assert requests.get(f"{base}/download/overview.xlsx?month=2026-10").status_code == 401
    assert requests.get(f"{base}/download/sites/sites.csv").status_code == 401
    forged = requests.get(f"{base}/_dash-layout", cookies={"callcost_session": "made-up"})
    assert forged.status_code == 401


def test_sign_in_sets_a_strict_cookie_and_opens_the_app(server):
    s, resp = sign_in(server.url)
    assert resp.status_code == 303 and resp.headers["Location"] == "/sites?month=2026-10"
    cookie = next(c for c in resp.headers["Set-Cookie"].split(", callcost") if "callcost_session=" in c)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert s.get(f"{server.url}/_dash-layout").status_code == 200
    body = s.post(f"{server.url}/_dash-update-component", json=route_payload("/", "?month=2026-10"),
                  headers={"Origin": server.url})
    assert body.status_code == 200 and "Overview" in body.text


def test_a_wrong_password_or_unknown_user_is_refused(server):
    for name, password in (("ann", "not the password"), ("nobody", PASSWORD)):
        s, resp = sign_in(server.url, name, password)
        assert resp.status_code == 401 and "Wrong user name or password" in resp.text
        assert "callcost_session" not in s.cookies
        assert s.get(f"{server.url}/_dash-layout").status_code == 401


def test_sign_in_without_the_form_csrf_token_is_refused(server):
    s = requests.Session()
    form = s.get(f"{server.url}/login")
    for token in ("", "x" + csrf_of(form.text)):
        resp = s.post(f"{server.url}/login", data={"username": "ann", "password": PASSWORD, "csrf": token},
                      allow_redirects=False)
        assert resp.status_code == 403 and "callcost_session" not in s.cookies
    # a forged cross-site form has the right fields but not the victim's cookie
    bare = requests.post(f"{server.url}/login", data={"username": "ann", "password": PASSWORD,
                                                      "csrf": csrf_of(form.text)}, allow_redirects=False)
    assert bare.status_code == 403


def test_a_callback_from_another_origin_is_refused(server):
    s, _ = sign_in(server.url)
    resp = s.post(f"{server.url}/_dash-update-component", json=route_payload("/"),
                  headers={"Origin": "http://evil.example"})
    assert resp.status_code == 403


def test_sign_out_needs_its_csrf_token_and_ends_the_session(server):
    s, _ = sign_in(server.url)
    old = s.cookies["callcost_session"]
    assert s.post(f"{server.url}/logout", data={"csrf": "guess"}, allow_redirects=False).status_code == 403
    assert s.get(f"{server.url}/_dash-layout").status_code == 200
    form = s.get(f"{server.url}/logout")
    resp = s.post(f"{server.url}/logout", data={"csrf": csrf_of(form.text)}, allow_redirects=False)
    assert resp.status_code == 303 and resp.headers["Location"] == "/login"
    assert requests.get(f"{server.url}/_dash-layout", cookies={"callcost_session": old}).status_code == 401


def test_the_next_address_stays_on_this_server(server):
    s = requests.Session()
    form = s.get(f"{server.url}/login?next=//evil.example/x")
    assert 'name="next" value="/"' in form.text
    resp = s.post(f"{server.url}/login", data={"username": "ann", "password": PASSWORD, "csrf": csrf_of(form.text),
                                               "next": "https://evil.example/"}, allow_redirects=False)
    assert resp.headers["Location"] == "/"


def test_failed_sign_ins_are_limited_per_user(ent):
    srv = start(ent, limiter=RateLimiter(per_user=3, per_address=100, window_s=60))
    try:
        for _ in range(3):
            assert sign_in(srv.url, "ann", "wrong password")[1].status_code == 401
        s, resp = sign_in(srv.url, "ann", PASSWORD)  # even the right password waits now
        assert resp.status_code == 429 and 0 < int(resp.headers["Retry-After"]) <= 60
        assert "callcost_session" not in s.cookies
        assert sign_in(srv.url, "root", PASSWORD)[1].status_code == 303  # another user is not held up
    finally:
        srv.shutdown()


def test_failed_sign_ins_are_limited_per_address(ent):
    srv = start(ent, limiter=RateLimiter(per_user=100, per_address=4, window_s=60))
    try:
        for name in ("u1", "u2", "u3", "u4"):
            assert sign_in(srv.url, name, "wrong password")[1].status_code == 401
        assert sign_in(srv.url, "root", PASSWORD)[1].status_code == 429
    finally:
        srv.shutdown()


def test_bearer_tokens_give_the_users_scope_or_401(ent, server):
    url = f"{server.url}/api/v1/whoami"
    with UserStore(ent.storage.database) as store:
        manager, admin = store.new_token("ann"), store.new_token("root")
        expired = store.new_token("root", timedelta(minutes=1))
        with store.engine.begin() as conn:  # its minute is over
            conn.execute(api_tokens.update().where(api_tokens.c.token_sha256 == hashlib.sha256(expired.encode())
                                                   .hexdigest()).values(expires_at=dt.datetime.now(dt.UTC)
                                                                        - timedelta(seconds=1)))
        assert requests.get(url, headers={"Authorization": f"Bearer {manager}"}).json() == ["NYC"]
        assert requests.get(url, headers={"Authorization": f"Bearer {admin}"}).json() is None
        for header in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {admin}"},
                       {"Authorization": f"Bearer {admin}x"}, {"Authorization": f"Bearer {expired}"}):
            assert requests.get(url, headers=header).status_code == 401, header
        store.revoke_tokens("ann")
        assert requests.get(url, headers={"Authorization": f"Bearer {manager}"}).status_code == 401


# --- TLS ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


# cheroot may leave a keep-alive connection's raw socket to the garbage collector when it stops (seen once
# in CI, reported in a later test): a test server's teardown, not a fault of the code under test
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_over_tls_the_session_cookie_is_secure(ent, certificate):
    cert, key = certificate
    srv = start(ent, certfile=cert, keyfile=key)
    s = None
    try:
        assert srv.url.startswith("https://")
        s, resp = sign_in(srv.url, verify=str(cert))
        assert resp.status_code == 303
        cookie = next(c for c in resp.headers["Set-Cookie"].split(", callcost") if "callcost_session=" in c)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert s.get(f"{srv.url}/_dash-layout", verify=str(cert)).status_code == 200
    finally:
        if s is not None:
            s.close()  # the client closes its keep-alive connection before the server stops
        srv.shutdown()


def test_a_missing_certificate_is_named(ent, tmp_path):
    with pytest.raises(FileNotFoundError, match="--certfile"):
        start(ent, certfile=tmp_path / "none.pem", keyfile=tmp_path / "none.key")


def test_the_sign_in_and_sign_out_pages_speak_the_readers_language(server):
    """``Accept-Language`` (or ``?lang=``, or the dashboard's language cookie) chooses the language of the
    sign-in page, its errors and the sign-out page; English otherwise."""
    zh = {"Accept-Language": "zh-CN,zh;q=0.9"}
    page = requests.get(f"{server.url}/login", headers=zh)
    assert '<html lang="zh-CN">' in page.text and "登录" in page.text and "用户名" in page.text
    assert "Sign in" not in page.text and page.headers["Content-Language"] == "zh-CN"
    english = requests.get(f"{server.url}/login")
    assert '<html lang="en">' in english.text and "User name" in english.text and "登录" not in english.text
    assert "登录" in requests.get(f"{server.url}/login?lang=zh_CN").text
    s = requests.Session()
    form = s.get(f"{server.url}/login", headers=zh)
    wrong = s.post(f"{server.url}/login", headers=zh, data={"username": "ann", "password": "nope",
                                                             "csrf": csrf_of(form.text), "next": "/"})
    assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text
    s.close()
    s, resp = sign_in(server.url)
    out = s.get(f"{server.url}/logout", headers=zh)
    assert "退出登录" in out.text and "已登录：ann" in out.text
    s.close()
