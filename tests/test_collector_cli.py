"""``callcost collect`` as a real process: records sent, SIGTERM, graceful drain — everything stored."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from collectorkit import HEADER, count, csv_records, enterprise_with


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_collect_runs_until_sigterm_and_drains(tmp_path):
    port, health = free_port(), free_port()
    ent = enterprise_with(tmp_path, {"lon-csv": f"tcp:127.0.0.1:{port}"}, collector="batch_ms = 5000")
    proc = subprocess.Popen([sys.executable, "-m", "callcost", "collect", "--config", str(ent.path),
                             "--pbx", "lon-csv", "--health-port", str(health)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.1)
        with s:
            s.sendall(HEADER + csv_records(400))
        time.sleep(0.5)  # received, still waiting for its 5 s batch: SIGTERM must not lose it
        with urllib.request.urlopen(f"http://127.0.0.1:{health}/health", timeout=5) as r:
            assert json.loads(r.read())["sources"]["lon-csv"]["bytes_received"] > 0
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert re.search(r"stopped; every queued record was stored", out)
    assert count(ent.storage.database, "select count(*) from calls") == 400
