"""``serial:DEVICE?baud=9600&framing=8N1`` — older PBXs print one SMDR line per call on a serial port.

pyserial on its own thread (a blocking read with a short timeout, so stopping is prompt); the port is
reopened with backoff if it disappears (USB adapters do).  Options in the query string: ``baud``,
``framing`` (data bits, parity N/E/O/M/S, stop bits 1/1.5/2: ``8N1``, ``7E1``…), ``rtscts``, ``xonxoff``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from urllib.parse import parse_qs

import serial

from collector.transports.base import Transport
from warehouse.errors import ConfigError

log = logging.getLogger("callcost.collector.serial")
FRAMING = re.compile(r"^([5-8])([NEOMS])(1|1\.5|2)$")
PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD, "M": serial.PARITY_MARK,
          "S": serial.PARITY_SPACE}
STOPBITS = {"1": serial.STOPBITS_ONE, "1.5": serial.STOPBITS_ONE_POINT_FIVE, "2": serial.STOPBITS_TWO}


def port_settings(target: str) -> tuple[str, dict]:
    """``DEVICE?baud=…&framing=…`` → (device, pyserial keyword arguments); a clear error when wrong."""
    device, _, query = target.partition("?")
    opts = {k: v[-1] for k, v in parse_qs(query).items()}
    framing = opts.pop("framing", "8N1").upper()
    m = FRAMING.match(framing)
    baud = opts.pop("baud", "9600")
    if not device or not m or not baud.isdigit():
        raise ConfigError(f"bad serial source 'serial:{target}'", field="source",
                          expected="serial:DEVICE?baud=9600&framing=8N1 (data bits 5-8, parity NEOMS, stop 1/1.5/2)")
    kwargs = {"baudrate": int(baud), "bytesize": int(m.group(1)), "parity": PARITY[m.group(2)],
              "stopbits": STOPBITS[m.group(3)], "rtscts": opts.pop("rtscts", "0") in ("1", "true"),
              "xonxoff": opts.pop("xonxoff", "0") in ("1", "true")}
    if opts:
        raise ConfigError(f"unknown serial option(s) {sorted(opts)}", field="source",
                          expected="baud, framing, rtscts, xonxoff")
    return device, kwargs


class SerialTransport(Transport):
    scheme = "serial"
    device: str | None = None  # from start on

    async def start(self) -> None:
        self.device, self.kwargs = port_settings(self.target)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"serial-{self.pbx.id}", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                port = serial.Serial(self.device, timeout=0.1, **self.kwargs)
            except (serial.SerialException, OSError) as exc:
                log.warning("serial %s: cannot open (%s); retrying in %.1fs", self.device, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 30)
                continue
            backoff = 0.5
            self._read(port)

    def _read(self, port: serial.Serial) -> None:
        session = self.intake.open_session(self.scheme, self.device, {"device": self.device,
                                                                      "settings": str(self.kwargs)})
        reason = "collector stopping"
        try:
            with port:
                while not self._stop.is_set():
                    data = port.read(max(port.in_waiting, 1))
                    if data:
                        session.feed_blocking(data)
        except (serial.SerialException, OSError) as exc:
            reason = f"port lost: {exc}"
            log.warning("serial %s: %s", self.device, reason)
        finally:
            session.close_blocking(reason)
            self.intake.event(session.stream, "closed", reason)

    def describe(self) -> dict:
        return {"source": self.pbx.source, "device": self.device}
