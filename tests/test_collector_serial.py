"""Serial SMDR through a real pseudo-terminal pair: pyserial opens the pty's device, a writer plays the PBX."""

from __future__ import annotations

import os
import pty
import time
import tty

import pytest
from collectorkit import HEADER, count, csv_records, enterprise_with, running, wait_for

from collector.transports.serial import port_settings
from warehouse.errors import ConfigError


def test_records_from_a_serial_port_are_stored(tmp_path):
    controller, device = pty.openpty()
    tty.setraw(device)  # no line discipline games: bytes in = bytes out
    name = os.ttyname(device)
    ent = enterprise_with(tmp_path, {"lon-csv": f"serial:{name}?baud=9600&framing=8N1"})
    db_url = f"sqlite:///{tmp_path}/c.db"
    try:
        with running(ent, db_url, pbx_ids=["lon-csv"]) as svc:
            m = svc.pipeline.metrics["lon-csv"]
            wait_for(lambda: m.sessions_open == 1, what="the port opened")  # pyserial flushes input on open
            data = HEADER + csv_records(40) + b"garbage line\n" + csv_records(5, start=40)
            for k in range(0, len(data), 64):  # a slow line printer
                os.write(controller, data[k:k + 64])
                time.sleep(0.001)
            wait_for(lambda: m.records_received >= 46, state=lambda: m)
    finally:
        os.close(controller)
        os.close(device)
    assert count(db_url, "select count(*) from calls") == 45
    assert count(db_url, "select count(*) from quarantine") == 1


def test_serial_source_settings_are_validated():
    assert port_settings("/dev/ttyS0?baud=1200&framing=7E1")[1]["bytesize"] == 7
    with pytest.raises(ConfigError, match="serial:DEVICE"):
        port_settings("/dev/ttyS0?framing=9X3")
