"""Failed sign-ins counted per user name and per client address, in a sliding window.

Why both: per user stops guessing one account's password from many addresses; per address stops one
client trying many accounts.  Only failures count, and a success clears that user's count (not the
address's, so a valid account cannot be used to reset an attacker's address).  Counts live in the
server process (the dashboard is one waitress process with threads); a restart forgets them.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """At most *per_user* failures per user name and *per_address* per address within *window_s* seconds."""

    def __init__(self, per_user: int = 5, per_address: int = 20, window_s: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_user, self.per_address, self.window_s, self._clock = per_user, per_address, window_s, clock
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def retry_after(self, user: str, address: str) -> int:
        """Seconds until *user* from *address* may try again; 0 when they may now."""
        now = self._clock()
        with self._lock:
            waits = []
            for key, limit in ((("user", user.lower()), self.per_user), (("addr", address), self.per_address)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + self.window_s - now)
            return max(1, int(max(waits) + 0.999)) if waits else 0

    def failed(self, user: str, address: str) -> None:
        now = self._clock()
        with self._lock:
            self._failures[("user", user.lower())].append(now)
            self._failures[("addr", address)].append(now)

    def succeeded(self, user: str) -> None:
        with self._lock:
            self._failures.pop(("user", user.lower()), None)
