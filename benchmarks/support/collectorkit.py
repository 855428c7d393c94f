"""Helpers for the collector tests and benchmarks: a sample enterprise with live sources, a running service.

``enterprise_with(tmp, {"lon-csv": "tcp:127.0.0.1:0"})`` copies the sample enterprise and points PBXs at
live sources; ``running(ent, db_url)`` runs :class:`CollectorService` on its own event loop thread and
drains it on exit; ``csv_records`` builds canonical-CSV lines (call ids ``{prefix}{i}``).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from callcost.demo import build_sample
from collector.service import CollectorService
from warehouse.config import Enterprise, load_config
from warehouse.store import Store

HEADER = b"call_id,start_utc,duration_s,calling_number,called_number\n"


def enterprise_with(directory: Path, sources: dict[str, str], *, collector: str = "batch_ms = 200",
                    pbx_options: dict[str, str] | None = None) -> Enterprise:
    path = build_sample(directory)
    text = path.read_text()
    for pbx, source in sources.items():
        block = re.compile(rf'(id = "{re.escape(pbx)}"\n(?:.*\n)*?)source = "[^"]*"')
        extra = (pbx_options or {}).get(pbx, "")
        text, n = block.subn(lambda m, source=source, extra=extra: m.group(1) + f'source = "{source}"'
                             + (f"\n{extra}" if extra else ""), text,
                             count=1)
        assert n == 1, pbx
    text = text.replace("[[pbx]]", f"[collector]\n{collector}\n\n[[pbx]]", 1) if collector else text
    path.write_text(text)
    return load_config(path)


def csv_records(n: int, prefix: str = "c", start: int = 0) -> bytes:
    """*n* canonical-CSV data lines (no header): London calls to a UK number."""
    return b"".join(b"%s%d,2026-10-05T09:%02d:%02dZ,%d,2001,00442071234567\n"
                    % (prefix.encode(), i, (i // 60) % 60, i % 60, i % 600) for i in range(start, start + n))


@contextmanager
def on_loop_thread(service, close: Callable[[], None], join_s: float = 60) -> Iterator:
    """Run *service* (``await start()`` … ``await stop()``) on its own event-loop thread, as the CLI does.

    Yields once it has started; on exit stops it, joins the thread, calls *close* and re-raises any
    error the loop met (a start failure is raised at once).
    """
    ready = threading.Event()
    box: dict = {}

    def main() -> None:
        async def go() -> None:
            box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
            await service.start()
            ready.set()
            await box["stop"].wait()
            await service.stop()
        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test below
            box["error"] = exc
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(30)
    if "error" in box:
        raise box["error"]
    try:
        yield service
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(join_s)
        close()
        if "error" in box:
            raise box["error"]


@contextmanager
def running(ent: Enterprise, db_url: str, **kwargs) -> Iterator[CollectorService]:
    """A collector service storing into *db_url*, on its own event-loop thread."""
    store = Store(ent, database_url=db_url)
    with on_loop_thread(CollectorService(ent, store=store, **kwargs), store.db.close) as service:
        yield service


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition",
             state: Callable[[], object] = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what} {state()}")


def count(db_url: str, sql: str) -> int:
    (value,) = column(db_url, sql)  # exactly one row
    return int(value)


def column(db_url: str, sql: str) -> list:
    """The first column of every row *sql* returns."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text(sql)).scalars())
    finally:
        engine.dispose()
