"""``ftp:HOST:PORT`` — an embedded FTP server for CUCM clusters whose billing server pushes by FTP.

pyftpdlib on its own thread; uploads land in ``ftp_folder`` (default ``incoming/<pbx id>`` beside
the config).  A file is handed to the pipeline when its upload *completes* (``on_file_received``),
so a half-uploaded file is never parsed; an aborted upload is recorded as an ``incomplete`` event and
left aside.  The uploaded bytes are also appended to the raw dump (an ``F`` frame) before parsing.
Login is ``ftp_user`` / ``ftp_password`` (required: an anonymous writable FTP server is not offered).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from pathlib import Path

with warnings.catch_warnings():  # pyftpdlib still imports the stdlib asyncore on Python 3.11
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

from collector.transports.base import Transport, host_port
from warehouse.errors import ConfigError

log = logging.getLogger("callcost.collector.ftp")
logging.getLogger("pyftpdlib").setLevel(logging.WARNING)


class FtpTransport(Transport):
    scheme = "ftp"

    async def start(self) -> None:
        host, port = host_port(self.target, self.scheme)
        password = self.settings["ftp_password"]
        if not password:
            raise ConfigError(f"PBX '{self.pbx.id}': ftp source needs a password", field="ftp_password",
                              expected="ftp_user / ftp_password in the [[pbx]] table")
        folder = self.settings["ftp_folder"] or f"incoming/{self.pbx.id}"
        self.folder = (self.ent.root / folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.get_running_loop()
        authorizer = DummyAuthorizer()
        authorizer.add_user(self.settings["ftp_user"], password, str(self.folder), perm="elw")
        transport = self

        class Handler(FTPHandler):
            def on_file_received(self, file: str) -> None:
                transport._received(Path(file))

            def on_incomplete_file_received(self, file: str) -> None:
                transport.intake.event(f"ftp:{file}", "incomplete", "upload aborted; file not imported")

        Handler.authorizer = authorizer
        Handler.banner = "callcost CDR collector"
        self.server = FTPServer((host, port), Handler)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"ftp-{self.pbx.id}", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return self.server.socket.getsockname()[:2]

    def _serve(self) -> None:
        try:
            while not self._stop.is_set():
                self.server.serve_forever(timeout=0.2, blocking=False, handle_exit=False)
        finally:
            self.server.close_all()

    def _received(self, path: Path) -> None:
        """On the FTP thread: dump, then queue (blocking while the pipeline is full)."""
        data = path.read_bytes()
        if self.intake.dump is not None:
            self.intake.dump.append("F", path.name.replace(" ", "_"), data)
            self.intake.dump.sync()
        self.intake.pipeline.submit(self.intake.file_part(self.scheme, path, data))

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.to_thread(self._thread.join)

    def describe(self) -> dict:
        return {"source": self.pbx.source, "listening": "{}:{}".format(*self.address), "folder": str(self.folder)}
