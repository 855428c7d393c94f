"""Bounded queues between stages: producers wait (threads and asyncio alike) instead of dropping."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from collector.channel import Channel, Closed


def test_a_full_channel_makes_the_async_producer_wait_and_loses_nothing():
    ch: Channel[bytes] = Channel(100, len, "parse")
    got: list[bytes] = []

    def slow_consumer() -> None:
        while True:
            try:
                item = ch.get(timeout=1)
            except Closed:
                return
            if item is not None:
                got.append(item)
                time.sleep(0.002)

    t = threading.Thread(target=slow_consumer)
    t.start()

    async def produce() -> float:
        peak = 0.0
        for k in range(200):
            await ch.put_async(b"%03d" % k + b"x" * 27)
            peak = max(peak, ch.load)
        return peak

    peak = asyncio.run(produce())
    ch.close()
    t.join(10)
    assert peak <= 100  # bounded
    assert len(got) == 200 and got[0].startswith(b"000") and got[-1].startswith(b"199")  # none lost, in order
    assert ch.waited_s > 0  # the producer felt the backpressure


def test_a_closed_channel_refuses_new_items_so_senders_are_not_misled():
    ch: Channel[int] = Channel(10)
    ch.put(1)
    ch.close()
    with pytest.raises(Closed):
        ch.put(2)
    assert ch.get() == 1
    with pytest.raises(Closed):
        ch.get()
