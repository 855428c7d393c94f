"""Avaya RSP receiver against a real TCP client playing a CM: connect/accept, per-SPDU acks carrying the
next sequence number (sent only once the payload is fsync'd in the raw dump), keep-alive, a retransmission
after a dropped ack, a link dropped mid-SPDU and resent on reconnect, a sequence gap alerted."""

from __future__ import annotations

import socket

import sqlalchemy as sa
from collectorkit import count, enterprise_with, running, wait_for

from collector.rawdump import dump_files, read_frames
from collector.status import collector_status
from collector.transports.rsp import ACCEPT, ack, data_spdu

CONNECT = bytes([0x01]) + bytes(16)  # 17 bytes, first byte 0x01 (contents undecoded)
HEADER = b"call_id,start_utc,duration_s,calling_number,called_number\r\n"


def record(i: int) -> bytes:
    return b"r%d,2026-10-05T09:00:%02dZ,%d,2001,00442071234567\r\n" % (i, i % 60, i)


def recv_exactly(s: socket.socket, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        assert chunk, "collector closed the link"
        out += chunk
    return out


def cm(address) -> socket.socket:
    s = socket.create_connection(address, timeout=10)
    s.sendall(CONNECT)
    assert recv_exactly(s, len(ACCEPT)) == ACCEPT
    return s


def test_rsp_exchange_with_retransmission_dropped_link_and_gap(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "rsp:127.0.0.1:0"}, pbx_options={"lon-csv": "rsp_idle_ms = 100"})
    db_url = f"sqlite:///{tmp_path}/c.db"
    with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
        address = svc.transports["lon-csv"].address
        s = cm(address)
        s.sendall(data_spdu(7, HEADER + record(1) + b"\0\0"))
        assert recv_exactly(s, 5) == ack(7)  # next expected: 8
        s.sendall(b"\x50")  # keep-alive
        assert recv_exactly(s, 1) == b"\x51"
        s.sendall(data_spdu(8, record(2) + record(3)))
        assert recv_exactly(s, 5) == ack(8)
        s.sendall(data_spdu(8, record(2) + record(3)))  # CM lost our ack and retransmits
        assert recv_exactly(s, 5) == ack(8)
        s.sendall(data_spdu(9, record(4)[:10]))  # a record split over two SPDUs (idle completes the SPDU)
        assert recv_exactly(s, 5) == ack(9)
        s.sendall(data_spdu(10, record(4)[10:]))
        assert recv_exactly(s, 5) == ack(10)
        s.sendall(data_spdu(11, record(5))[:9])  # the link drops in the middle of SPDU 11: never acked
        s.close()
        # CM reconnects and re-sends its unacknowledged buffer; then a sequence jump
        s = cm(address)
        s.sendall(data_spdu(11, HEADER + record(5)))
        assert recv_exactly(s, 5) == ack(11)
        s.sendall(data_spdu(14, record(6)))
        assert recv_exactly(s, 5) == ack(14)
        s.sendall(data_spdu(255, record(7)))
        assert recv_exactly(s, 5) == bytes([0x40, 0x05, 0x01, 0x00, 0x81])  # wraps at 256
        s.close()
        m = svc.pipeline.metrics["lon-csv"]
        wait_for(lambda: m.stored >= 7 and m.sessions_open == 0, state=lambda: m)
    assert count(db_url, "select count(*) from calls") == 7  # r1..r7, the retransmission not doubled
    engine = sa.create_engine(db_url)
    [st] = [x for x in collector_status(ent, engine) if x.pbx == "lon-csv"]
    engine.dispose()
    assert any("sequence jumped from 11 to 14" in a for a in st.alerts)
    assert st.quarantined == 0  # the torn SPDU was never acknowledged, so it is not a record
    # every byte is in the raw dump: protocol bytes (P), data (D), what we sent (S)
    frames = [f for p in dump_files([ent.storage.raw_dump]) for f in read_frames(p)]
    kinds = {f.kind for f in frames}
    assert {"O", "P", "D", "S", "C"} <= kinds
    assert b"".join(f.payload for f in frames if f.kind == "S").count(ack(8)) == 2


def test_rsp_refuses_a_peer_that_does_not_speak_rsp(tmp_path):
    ent = enterprise_with(tmp_path, {"lon-csv": "rsp:127.0.0.1:0"})
    with running(ent, f"sqlite:///{tmp_path}/c.db", pbx_ids=["lon-csv"]) as svc:
        s = socket.create_connection(svc.transports["lon-csv"].address, timeout=5)
        s.sendall(b"plain text, not RSP\r\n")
        assert s.recv(100) == b""  # closed so that a real CM would retry
        s.close()
