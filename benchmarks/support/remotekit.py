"""The two sides of a remote unit for tests and benchmarks: a test CA and the centre's certificate, configs, a running unit.

``make_tls(folder)`` writes a CA, the centre's certificate for localhost/127.0.0.1 signed by it and an
unrelated CA; ``centre_config`` / ``unit_config`` point the sample enterprise at an ``https:`` source or
make it a remote unit forwarding to one; ``running_unit`` runs a unit on its own event-loop thread.
Needs ``cryptography`` (a test extra) for the certificates.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from collectorkit import enterprise_with, on_loop_thread
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from collector.remote.unit import RemoteUnit
from warehouse.config import Enterprise, load_config
from crashkit import free_port

__all__ = ["centre_config", "free_port", "make_tls", "running_unit", "unit_config"]


# --- certificates -----------------------------------------------------------------------------------

def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(folder: Path, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    (folder / f"{cn}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def make_tls(folder: Path) -> dict[str, Path]:
    """A test CA, the centre's certificate for localhost/127.0.0.1 signed by it, and an unrelated CA."""
    ca_cert, ca_key = _ca(folder, "test-ca")
    _ca(folder, "other-ca")
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (folder / "centre.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "centre.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                          serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return {"ca": folder / "test-ca.pem", "other_ca": folder / "other-ca.pem", "cert": folder / "centre.pem",
            "key": folder / "centre.key"}


# --- the two sides ----------------------------------------------------------------------------------

def centre_config(directory: Path, port: int, tls: dict[str, Path]) -> Enterprise:
    return enterprise_with(directory, {"lon-csv": f"https:127.0.0.1:{port}"},
                           collector=f'batch_ms = 100\nhttps_cert = "{tls["cert"]}"\nhttps_key = "{tls["key"]}"')


def unit_config(directory: Path, centre_port: int, ca: Path, *, tcp_port: int = 0, host: str = "localhost",
                token_env: str = "CALLCOST_REMOTE_TOKEN") -> Enterprise:
    ent = enterprise_with(directory, {"lon-csv": f"tcp:127.0.0.1:{tcp_port}"}, collector="batch_ms = 100")
    with open(ent.path, "a") as fh:
        fh.write(f'\n[remote]\nunit = "lon-unit-1"\ncentre = "https://{host}:{centre_port}"\nca = "{ca}"\n'
                 f'token_env = "{token_env}"\nretry_initial_s = 0.05\nretry_max_s = 0.3\nfinal_drain_s = 0.5\ntimeout_s = 3\n')
    return load_config(ent.path)


@contextmanager
def running_unit(ent: Enterprise) -> Iterator[RemoteUnit]:
    """A remote unit on its own event-loop thread (as `callcost collect --remote-unit` runs it)."""
    unit = RemoteUnit(ent, store=None)
    with on_loop_thread(unit, lambda: unit.service.store.db.close(), join_s=30):
        yield unit
