"""``rsp:HOST:PORT`` — Avaya CM CDR links with the Reliable Session Protocol (EXPERIMENTAL).

Avaya's RSP specification is not public.  This receiver implements the packet exchange described in
``shared/reference/avaya-asterisk-smdr.md`` §2.4 (reverse-engineered by jsolares/AvayaRDT), and
nothing more; docs/collector.md says what was and was not verified.  Plain ``tcp:`` is the mode to rely on.

Exchange, as implemented:

* CM → us, first bytes after connect: the session-connect SPDU (first byte ``0x01``; contents not
  decoded, kept in the raw dump as a ``P`` frame).  Anything else first → the connection is closed so
  CM retries.  We answer the session-accept ``02 06 01 00 07 01 00 02 01 06 81``.
* CM → us, data SPDU ``80 05 01 <seq> 81`` + CDR text.  No length field is known, and CM sends the
  next SPDU only after our ack (window 1 assumed), so an SPDU ends when the bytes so far end in
  CR LF (+ NUL padding) *or* when ``rsp_idle_ms`` pass without another byte.
* We ack ``40 05 01 <(seq+1) & 0xFF> 81`` — only after the payload is appended to the raw dump *and*
  fsync'd (group commit with every other link).
* A retransmission (the seq we acked last) is acked again and its payload not re-queued; any other
  jump is recorded as a ``gap`` event (``callcost status`` alerts) and the data accepted.
* Keep-alive ``50`` → ``51``.
"""

from __future__ import annotations

import asyncio
import logging

from collector.streams import StreamSession
from collector.transports.tcp import READ_SIZE, TcpTransport

log = logging.getLogger("callcost.collector.rsp")

CONNECT = 0x01
ACCEPT = bytes.fromhex("02 06 01 00 07 01 00 02 01 06 81")
DATA_HEAD = bytes.fromhex("80 05 01")
DATA_HEADER_LEN = 5
KEEPALIVE, KEEPALIVE_REPLY = b"\x50", b"\x51"


def ack(seq: int) -> bytes:
    """The ack of data SPDU *seq*: the next sequence number expected."""
    return bytes([0x40, 0x05, 0x01, (seq + 1) & 0xFF, 0x81])


def data_spdu(seq: int, payload: bytes) -> bytes:
    """A data SPDU as CM sends it (used by tests and the benchmark playing a CM)."""
    return DATA_HEAD + bytes([seq & 0xFF, 0x81]) + payload


def spdu_complete(buffer: bytes) -> bool:
    """A data SPDU whose payload ends at a record end (CR LF, maybe NUL padding)."""
    return len(buffer) > DATA_HEADER_LEN and buffer.rstrip(b"\0").endswith(b"\r\n")


class RspTransport(TcpTransport):
    scheme = "rsp"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, peer: str) -> None:
        session = self.intake.open_session(self.scheme, peer, {"peer": peer, "protocol": "avaya-rsp"})
        idle = float(self.settings["rsp_idle_ms"]) / 1000
        reason = "closed by peer"
        try:
            first = await reader.read(READ_SIZE)
            if not first:
                return
            session.dump_protocol("P", first)
            if first[0] != CONNECT:
                reason = f"not an RSP session-connect (first bytes {first[:17].hex(' ')}): closed so CM retries"
                await self.intake.event_async(session.stream, "refused", reason)
                return
            log.info("RSP %s: session connect %s", peer, first.hex(" "))
            await self._send(writer, session, ACCEPT)
            last_acked: int | None = None
            buffer = b""
            while True:
                timeout = idle if buffer else None
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), timeout)
                except TimeoutError:
                    data = None  # silence: the SPDU in the buffer is complete
                if data == b"":
                    if buffer:
                        session.dump_protocol("P", buffer)  # a torn SPDU: never acked, CM resends it
                    break
                if data:
                    buffer += data
                    if buffer == KEEPALIVE:
                        session.dump_protocol("P", buffer)
                        await self._send(writer, session, KEEPALIVE_REPLY)
                        buffer = b""
                        continue
                    if not buffer.startswith(DATA_HEAD[: len(buffer)]):
                        session.dump_protocol("P", buffer)
                        reason = f"unknown SPDU {buffer[:16].hex(' ')}: closed so CM resynchronises"
                        await self.intake.event_async(session.stream, "refused", reason)
                        break
                    if not spdu_complete(buffer):
                        continue
                elif len(buffer) <= DATA_HEADER_LEN:
                    continue
                seq = buffer[3]
                session.dump_protocol("P", buffer[:DATA_HEADER_LEN])
                payload = buffer[DATA_HEADER_LEN:]
                buffer = b""
                if last_acked is not None and seq == last_acked:
                    session.dump_protocol("P", payload)  # retransmission: already stored, ack again
                else:
                    if last_acked is not None and seq != (last_acked + 1) & 0xFF:
                        await self.intake.event_async(
                            session.stream, "gap", f"RSP sequence jumped from {last_acked} to {seq}")
                    session.sequence = seq
                    # CM pads a payload with NULs after its last CR LF: framing, not the next record's
                    # first bytes (kept in the raw dump as protocol bytes, so every byte is still there)
                    data = payload.rstrip(b"\0")
                    await session.feed(data)
                    if len(data) < len(payload):
                        session.dump_protocol("P", payload[len(data):])
                    await self.intake.durable()
                last_acked = seq
                await self._send(writer, session, ack(seq))
        except (ConnectionError, OSError) as exc:
            reason = f"link dropped: {exc}"
        except asyncio.CancelledError:
            reason = "collector stopping"
            raise
        finally:
            await self.finish(session, reason)  # survives cancellation; stop() waits for it

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, session: StreamSession, data: bytes) -> None:
        session.dump_protocol("S", data)
        writer.write(data)
        await writer.drain()
