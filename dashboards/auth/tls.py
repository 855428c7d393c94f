"""The dashboard over HTTPS: cheroot (CherryPy's WSGI server) with Python's ``ssl``, since waitress has no TLS.

Why cheroot: waitress says it does not do TLS and expects a reverse proxy in front of it; wrapping its
non-blocking listening socket with ``ssl`` is not supported.  cheroot is a maintained, threaded,
production WSGI server with a built-in TLS adapter (``BuiltinSSLAdapter``), so ``callcost dashboard
--certfile --keyfile`` needs no proxy.  Plain HTTP stays on waitress.  TLS 1.2 is the minimum.
"""

from __future__ import annotations

import gc
import ssl
import threading
import warnings
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from dash import Dash

__all__ = ["TlsServer"]


class TlsServer:
    """cheroot serving *app* over TLS on (host, port) with *certfile* / *keyfile* (PEM); port 0 picks a free one.

    Same interface as :class:`dashboards.app.WsgiServer` (``url``, ``port``, ``start``, ``serve_forever``,
    ``shutdown``)."""

    def __init__(self, app: Dash, host: str, port: int, certfile: str | Path, keyfile: str | Path,
                 threads: int = 8) -> None:
        for label, path in (("--certfile", certfile), ("--keyfile", keyfile)):
            if not Path(path).is_file():
                raise FileNotFoundError(2, f"{label}: no such file", str(path))
        adapter = BuiltinSSLAdapter(str(certfile), str(keyfile))  # loads both: a bad pair fails here, not later
        adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._server = wsgi.Server((host, port), app.server, numthreads=threads, server_name="callcost")
        self._server.ssl_adapter = adapter
        self._server.prepare()  # binds now, so a busy port fails at once and port 0 gets its number
        self.host, self.port = host, int(self._server.bind_addr[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.serve()

    def start(self) -> TlsServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="callcost-dashboard-tls")
        self._thread.start()
        return self

    def shutdown(self) -> None:
        self._server.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        # cheroot can leave the raw socket of a connection that was mid-handshake or kept alive when it
        # stopped to the garbage collector; collect those now, quietly, rather than warn later somewhere else
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            gc.collect()
