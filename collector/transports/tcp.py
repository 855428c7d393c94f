"""``tcp:HOST:PORT`` — a server the PBX connects *to* (Avaya CM CDR links, IP Office SMDR, TCP SMDR).

asyncio: one coroutine per connection, hundreds at once on one thread; a read is awaited only after
the previous bytes were queued, so when the pipeline is full we stop reading and TCP flow control
holds the PBX back.  A primary and a secondary link are simply two connections (tagged by peer).
"""

from __future__ import annotations

import asyncio
import logging

from collector.transports.base import Transport, host_port

log = logging.getLogger("callcost.collector.tcp")
READ_SIZE = 256 * 1024


class TcpTransport(Transport):
    scheme = "tcp"

    server: asyncio.Server | None = None

    async def start(self) -> None:
        host, port = host_port(self.target, self.scheme)
        self._tasks: set[asyncio.Task] = set()
        self._finishing: set[asyncio.Future] = set()
        self.server = await asyncio.start_server(self._accept, host, port, limit=READ_SIZE, backlog=1024)

    @property
    def address(self) -> tuple[str, int]:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[:2]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            await self.serve(reader, writer, f"{peer[0]}:{peer[1]}")
        except asyncio.CancelledError:
            pass  # stop() cancelled the read; the session's end is finished by finish() (awaited in stop)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        session = self.intake.open_session(self.scheme, peer, {"peer": peer})
        reason = "closed by peer"
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                await session.feed(data)
        except (ConnectionError, OSError) as exc:
            reason = f"link dropped: {exc}"
        except asyncio.CancelledError:
            reason = "collector stopping"
            raise
        finally:
            await self.finish(session, reason)

    async def finish(self, session, reason: str) -> None:
        """Queue the session's last part and record its "closed" event, even if the reader is cancelled
        meanwhile: :meth:`stop` waits for every finish still running before the pipeline drains."""
        async def end() -> None:
            await session.close(reason)
            await self.intake.event_async(session.stream, "closed", reason)

        task = asyncio.ensure_future(end())
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)
        await asyncio.shield(task)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._finishing:  # last parts queued and "closed" recorded before the pipeline is drained
            await asyncio.gather(*self._finishing)
        if self.server is not None:
            await self.server.wait_closed()

    def describe(self) -> dict:
        return {"source": self.pbx.source, "listening": "{}:{}".format(*self.address) if self.server else None,
                "connections": len(self._tasks) if self.server is not None else 0}
