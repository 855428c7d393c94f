"""Helpers for the report, schedule and email tests: a lake with trunks and destinations, a config, SMTP.

* :func:`report_calls` — ``lakefactory.random_calls`` plus the columns the newer report types read
  (``trunk``, ``connected_number_e164``, ``dest_country``, premium and tandem calls), deterministic;
* :func:`write_enterprise` — a minimal valid ``callcost.toml`` (three sites, trunks, extra tables) whose
  lake and database live beside it;
* :class:`SmtpServer` — a real aiosmtpd server on a free loopback port that keeps every message, can
  refuse the first N messages with a 451, and can speak STARTTLS + AUTH with a self-signed certificate.
"""

from __future__ import annotations

import random
import socket
import ssl
import subprocess
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from lakefactory import random_calls

TRUNKS = {"NYC": ("NYC-PSTN-GW1", "NYC-PSTN-GW2"), "LON": ("LON-PSTN-GW1",), "SHA": ("SHA-PSTN-GW1",)}
COUNTRIES = ("GB", "DE", "FR", "CN", "IN")


def report_calls(n: int = 3_000, seed: int = 5) -> list[dict]:
    """Varied calls over Sep–Nov 2026 with trunks, far-end numbers, countries, premium and tandem calls."""
    rng = random.Random(seed)
    rows = random_calls(n, seed=seed)
    for row in rows:
        outbound = row["call_type"] == "outbound"
        if outbound and rng.random() < 0.06:
            row["category"] = "premium"
        if outbound and rng.random() < 0.03:
            row["call_type"] = "tandem"
        row["trunk"] = rng.choice(TRUNKS[row["site"]]) if row["call_type"] in ("outbound", "inbound", "tandem") else None
        row["connected_number_e164"] = f"+44{rng.randint(0, 30):04d}" if outbound else None
        row["dest_country"] = rng.choice(COUNTRIES) if row["category"] == "international" else None
        if row["duration_s"] and rng.random() < 0.3:  # some ringing before answer: end = start + ring + talk
            ring = rng.randint(1, 30)
            row["answer_utc"] = row["start_utc"] + timedelta(seconds=ring)
            row["end_utc"] = row["answer_utc"] + timedelta(seconds=row["duration_s"])
        if row["rating_status"] == "unrated":
            row["unrated_reason"] = rng.choice(["actual: no prefix", "reference: no band", "unknown trunk"])
    return rows


CONFIG = """
[enterprise]
name = "Test Corp"
currency = "USD"

[storage]
lake = "lake"
database = "{database}"

[[site]]
id = "NYC"
timezone = "America/New_York"
country = "US"
holidays = "US-NY"
main_number = "+12125550000"
extensions = ["1000-1999"]

[[site]]
id = "LON"
timezone = "Europe/London"
country = "GB"
holidays = "GB-ENG"
main_number = "+442075550000"
extensions = ["2000-2999"]

[[site]]
id = "SHA"
timezone = "Asia/Shanghai"
country = "CN"
holidays = "CN"
main_number = "+862155550000"
extensions = ["3000-3999"]

[[pbx]]
id = "nyc-pbx"
type = "canonical-csv"
site = "NYC"

[[pbx]]
id = "lon-pbx"
type = "canonical-csv"
site = "LON"

[[pbx]]
id = "sha-pbx"
type = "canonical-csv"
site = "SHA"

[[trunk]]
pbx = "nyc-pbx"
match = "NYC-PSTN-*"
carrier = "acme"
kind = "pstn"

[[trunk]]
pbx = "lon-pbx"
match = "LON-PSTN-*"
carrier = "acme"
kind = "pstn"

[[trunk]]
pbx = "sha-pbx"
match = "SHA-PSTN-*"
carrier = "acme"
kind = "pstn"

[[carrier]]
id = "acme"
tariff = "acme.csv"

[reference]
tariff = "acme.csv"
"""


def write_enterprise(folder: Path, extra: str = "", *, database: str | None = None) -> Path:
    """A valid config in *folder* (lake at ``folder/lake``); *extra* TOML is appended. Returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "acme.csv").write_text("plan,origin,prefix,destination,category,days,time_from,time_to,connect_fee,"
                                     "rate,first_increment,increment,valid_from,valid_to\n")
    path = folder / "callcost.toml"
    path.write_text(CONFIG.format(database=database or f"sqlite:///{folder}/callcost.db") + extra)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 / localhost (openssl CLI): (cert.pem, key.pem)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


class _Handler:
    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 try again later"
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpServer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd); ``messages`` holds what it accepted."""

    def __init__(self, *, port: int | None = None, refuse: int = 0, tls: tuple[Path, Path] | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.handler = _Handler(refuse)
        self.logins: list[str] = []
        kwargs: dict = {}
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            kwargs.update(tls_context=ctx, require_starttls=True)
        if login is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode(), auth_data.password.decode()) == login
                if ok:
                    self.logins.append(auth_data.login.decode())
                return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls is not None)
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def smtp_table(port: int, extra: str = "") -> str:
    return f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\nstarttls = false\nfrom = "callcost@test.example"\nretries = 3\nbackoff_s = 0.01\n{extra}'
