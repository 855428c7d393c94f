"""Users, API tokens and sessions in the SQL database (SQLite and real PostgreSQL), and ``callcost users``.

Also the kit the login and scoping tests share (:func:`write_enterprise`): a config with sites NYC and
LON, a directory with departments, and the lake of ``lakefactory.KNOWN_CALLS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from callcost.cli import app
from dashboards.auth.serving import NoUsersError, dashboard_server
from lakefactory import KNOWN_CALLS, write_lake
from warehouse.config import load_config
from warehouse.users import UserError, UserStore, api_tokens, parse_duration, users, web_sessions

CONFIG = """
[enterprise]
name = "Auth Corp"
currency = "USD"

[storage]
lake = "lake"
database = "{database}"

[[site]]
id = "NYC"
timezone = "America/New_York"
country = "US"
main_number = "+12125550000"
extensions = ["1000-1999"]

[[site]]
id = "LON"
timezone = "Europe/London"
country = "GB"
main_number = "+442075550000"
extensions = ["2000-2999"]

[[carrier]]
id = "acme"
tariff = "acme.csv"

[reference]
tariff = "acme.csv"

[directory]
file = "directory.csv"
"""
DIRECTORY = """extension,site,user,department,cost_center,valid_from,valid_to
1001,NYC,Ann,Sales,CC1,2026-01-01,
1003,NYC,Bo,Support,CC2,2026-01-01,
2001,LON,Cy,Finance/Treasury,CC3,2026-01-01,
"""
PASSWORD = "correct horse battery"


def write_enterprise(root: Path, database: str | None = None) -> Path:
    """A config (NYC, LON, a directory) over the KNOWN_CALLS lake in *root*; returns the callcost.toml."""
    root.mkdir(parents=True, exist_ok=True)
    write_lake(root / "lake", KNOWN_CALLS)
    (root / "directory.csv").write_text(DIRECTORY)
    (root / "acme.csv").write_text("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,"
                                   "rate,first_increment,increment,valid_from,valid_to\n")
    path = root / "callcost.toml"
    path.write_text(CONFIG.format(database=database or f"sqlite:///{root}/callcost.db"))
    return path


def cli(config: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, [*args, "--config", str(config)], input=stdin)


# --- the store, on both backends ---------------------------------------------------------------------


@pytest.fixture
def store(db_url):
    with UserStore(db_url) as s:
        yield s


def test_passwords_are_argon2_hashes_and_verified(store):
    store.add("ann", "manager", PASSWORD, sites=["NYC"])
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert store.check_password("ann", PASSWORD).sites == frozenset({"NYC"})
    assert store.check_password("ann", PASSWORD + "x") is None
    assert store.check_password("nobody", PASSWORD) is None
    with pytest.raises(UserError, match="already exists"):
        store.add("ann", "admin", PASSWORD)
    with pytest.raises(UserError, match="too short"):
        store.add("bob", "admin", "short")
    with pytest.raises(UserError, match="give --sites or --departments"):
        store.add("bob", "manager", PASSWORD)
    with pytest.raises(UserError, match="role 'boss'"):
        store.add("bob", "boss", PASSWORD)
    with pytest.raises(UserError, match="for managers"):
        store.add("bob", "analyst", PASSWORD, sites=["NYC"])


def test_tokens_are_stored_as_hashes_expire_and_are_revoked(store):
    store.add("ann", "analyst", PASSWORD)
    token = store.new_token("ann", timedelta(days=1))
    with store.engine.connect() as conn:
        hashes = conn.execute(sa.select(api_tokens.c.token_sha256)).scalars().all()
    assert token not in hashes and len(hashes) == 1
    assert store.token_user(token).name == "ann"
    assert store.token_user(token + "x") is None and store.token_user("") is None
    with store.engine.begin() as conn:  # the token's day is over
        conn.execute(api_tokens.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert store.token_user(token) is None
    forever = store.new_token("ann", None)
    assert store.token_user(forever).name == "ann"
    assert store.revoke_tokens("ann") == 2  # the expired one is revoked too
    assert store.token_user(forever) is None


def test_sessions_expire_and_end_with_a_new_password_or_removal(store):
    user = store.add("ann", "admin", PASSWORD)
    sid, session = store.new_session(user, timedelta(hours=1))
    assert store.session(sid).csrf == session.csrf
    with store.engine.begin() as conn:
        conn.execute(web_sessions.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert store.session(sid) is None
    sid, _ = store.new_session(user, timedelta(hours=1))
    store.set_password("ann", PASSWORD + "2")
    assert store.session(sid) is None and store.check_password("ann", PASSWORD + "2")
    sid, _ = store.new_session(user, timedelta(hours=1))
    token = store.new_token("ann")
    store.remove("ann")
    assert store.session(sid) is None and store.token_user(token) is None and store.count() == 0


@pytest.mark.parametrize("text, expected", [("30d", timedelta(days=30)), ("12h", timedelta(hours=12)),
                                            ("90m", timedelta(minutes=90)), ("never", None)])
def test_token_lifetimes(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["30", "0d", "-1d", "1w", "", "soon"])
def test_a_bad_lifetime_names_the_option(text):
    with pytest.raises(UserError, match="--expires"):
        parse_duration(text)


# --- the CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def config(tmp_path):
    return write_enterprise(tmp_path / "ent")


def test_users_add_list_passwd_remove(config):
    r = cli(config, "users", "add", "ann", "--role", "manager", "--sites", "NYC", "--departments", "Sales",
            stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    r = cli(config, "users", "add", "root", "--role", "admin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    listing = cli(config, "users", "list").output
    assert "ann\tmanager\tsites=NYC\tdepartments=Sales" in listing and "root\tadmin\tsites=*" in listing
    assert PASSWORD not in listing
    store = UserStore(load_config(config).storage.database)
    assert cli(config, "users", "passwd", "ann", stdin="another password\n").exit_code == 0
    assert store.check_password("ann", "another password") and not store.check_password("ann", PASSWORD)
    assert cli(config, "users", "remove", "ann").exit_code == 0
    assert [u.name for u in store.list()] == ["root"]
    r = cli(config, "users", "remove", "ann")
    assert r.exit_code == 1 and "no user 'ann'" in r.output


@pytest.mark.parametrize("args, message", [
    (["--role", "manager", "--sites", "NYC,PAR"], "--sites: unknown site 'PAR' (the config has: LON, NYC)"),
    (["--role", "manager", "--departments", "Sales,Marketing"], "--departments: unknown department 'Marketing'"),
    (["--role", "chief"], "--role 'chief' is not one of: admin, manager, analyst"),
    (["--role", "manager"], "give --sites or --departments"),
])
def test_users_add_refuses_what_the_config_does_not_know(config, args, message):
    r = cli(config, "users", "add", "ann", *args, stdin=PASSWORD + "\n")
    assert r.exit_code == 1 and message in " ".join(r.output.split()), r.output
    assert UserStore(load_config(config).storage.database).count() == 0


def test_a_parent_department_of_the_directory_is_known(config):
    r = cli(config, "users", "add", "cy", "--role", "manager", "--departments", "Finance", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output


def test_users_token_prints_a_working_token_once_and_revoke_ends_it(config):
    cli(config, "users", "add", "ann", "--role", "analyst", stdin=PASSWORD + "\n")
    r = cli(config, "users", "token", "ann", "--expires", "2h")
    assert r.exit_code == 0, r.output
    token = r.output.strip()
    store = UserStore(load_config(config).storage.database)
    assert store.token_user(token).name == "ann"
    assert cli(config, "users", "list").output.count(token) == 0
    r = cli(config, "users", "token", "ann", "--expires", "soon")
    assert r.exit_code == 1 and "--expires 'soon'" in r.output
    r = cli(config, "users", "revoke", "ann")
    assert r.exit_code == 0 and "revoked 1 token of ann" in r.output
    assert store.token_user(token) is None


# --- the loopback rule -------------------------------------------------------------------------------


def test_dashboard_refuses_a_public_address_until_a_user_exists(config):
    ent = load_config(config)
    with pytest.raises(NoUsersError, match="callcost users add NAME --role admin"):
        dashboard_server(ent.storage.lake, "USD", "0.0.0.0", 0, database=ent.storage.database, ent=ent)
    r = cli(config, "dashboard", "--host", "0.0.0.0", "--port", "1")
    assert r.exit_code == 1 and "no user exists yet" in r.output and "callcost users add" in r.output
    loopback = dashboard_server(ent.storage.lake, "USD", "127.0.0.1", 0, database=ent.storage.database, ent=ent)
    loopback.shutdown()  # loopback without users is allowed
    UserStore(ent.storage.database).add("root", "admin", PASSWORD)
    public = dashboard_server(ent.storage.lake, "USD", "0.0.0.0", 0, database=ent.storage.database, ent=ent)
    public.shutdown()


def test_users_add_asks_for_the_password_twice_on_a_terminal(config):
    """On a real pty: the prompt hides the password, asks again, and a mismatch is asked once more."""
    import io
    import sys

    import pexpect

    child = pexpect.spawn(sys.executable, ["-m", "callcost", "users", "add", "tty", "--role", "admin",
                                           "--config", str(config)], timeout=60, encoding="utf-8")
    transcript = child.logfile_read = io.StringIO()
    child.expect("Password: ")
    child.sendline(PASSWORD)
    child.expect("Repeat for confirmation: ")
    child.sendline("something else")
    child.expect("do not match")
    child.expect("Password: ")
    child.sendline(PASSWORD)
    child.expect("Repeat for confirmation: ")
    child.sendline(PASSWORD)
    child.expect("added tty \\(admin\\)")
    child.expect(pexpect.EOF)
    assert PASSWORD not in transcript.getvalue()  # never echoed
    child.close()
    assert child.exitstatus == 0
    assert UserStore(load_config(config).storage.database).check_password("tty", PASSWORD) is not None
