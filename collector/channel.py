"""A bounded queue between pipeline stages that both threads and the asyncio loop can wait on.

Why not ``queue.Queue``: receivers run on the event loop and must *wait* (not block the loop, not
drop) when parsing falls behind, so a slow store slows the sockets down — TCP flow control then
pushes back to the PBX.  Capacity is a weight (bytes, rows), not an item count, so memory stays
bounded whatever the chunk sizes; one item heavier than the capacity is still let through alone.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Closed(Exception):
    """The channel was closed and is empty."""


class Channel(Generic[T]):
    def __init__(self, capacity: float, weight: Callable[[T], float] = lambda _: 1, name: str = "") -> None:
        self.capacity = capacity
        self.weight = weight
        self.name = name
        self._items: deque[tuple[T, float]] = deque()
        self._load = 0.0
        self._closed = False
        self._cond = threading.Condition()
        self._async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []
        self.waited_s = 0.0  # time producers spent waiting for room: the backpressure felt

    @property
    def load(self) -> float:
        return self._load

    def __len__(self) -> int:
        return len(self._items)

    def _room(self, w: float) -> bool:
        return not self._items or self._load + w <= self.capacity

    def _push(self, item: T, w: float) -> None:
        self._items.append((item, w))
        self._load += w
        self._cond.notify_all()

    def put(self, item: T) -> None:
        """Block the calling thread until there is room."""
        w = self.weight(item)
        started = time.perf_counter()
        with self._cond:
            while not self._room(w) and not self._closed:
                self._cond.wait(0.5)
            if self._closed:
                raise Closed(self.name)
            self._push(item, w)
        self.waited_s += time.perf_counter() - started

    async def put_async(self, item: T) -> None:
        """Wait on the event loop (without blocking it) until there is room."""
        w = self.weight(item)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        while True:
            with self._cond:
                if self._closed:  # the stage after us died: the sender must not believe it was taken
                    raise Closed(self.name)
                if self._room(w):
                    self._push(item, w)
                    self.waited_s += time.perf_counter() - started
                    return
                fut = loop.create_future()
                self._async_waiters.append((loop, fut))
            await fut

    def get(self, timeout: float | None = None) -> T | None:
        """Next item; None on timeout; :class:`Closed` once closed and drained."""
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            while not self._items:
                if self._closed:
                    raise Closed(self.name)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.5)
            item, w = self._items.popleft()
            self._load -= w
            self._cond.notify_all()
            self._wake_async()
            return item

    def get_many(self, max_weight: float, timeout: float | None = None,
                 size: Callable[[T], float] | None = None) -> list[T]:
        """At least one item (waiting up to *timeout*), then whatever is queued up to *max_weight*.

        *size* measures items for *max_weight* when it differs from the capacity weight (a part whose
        bytes wait in the raw dump weighs nothing in memory but is still work for the taker).
        """
        first = self.get(timeout)
        if first is None:
            return []
        measure = size or self.weight
        out, total = [first], measure(first)
        with self._cond:
            while self._items and total + measure(self._items[0][0]) <= max_weight:
                item, w = self._items.popleft()
                self._load -= w
                total += measure(item)
                out.append(item)
            self._cond.notify_all()
            self._wake_async()
        return out

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            self._wake_async()

    def _wake_async(self) -> None:
        waiters, self._async_waiters = self._async_waiters, []
        for loop, fut in waiters:
            loop.call_soon_threadsafe(_resolve, fut)


def _resolve(fut: asyncio.Future) -> None:
    if not fut.done():
        fut.set_result(None)
