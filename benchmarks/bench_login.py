"""What one sign-in attempt costs: argon2id password verification (ms per attempt), against a SHA-256 baseline.

    python benchmarks/bench_login.py              # 20 attempts
    python benchmarks/bench_login.py --attempts 50

The figure is the server-side price of a sign-in (right or wrong password: both verify one hash) and so
also what the rate limit protects: at ~N ms per attempt one core tries 1000/N passwords a second.
Measured through :meth:`warehouse.users.UserStore.check_password` on a SQLite database (the real path,
with its one SELECT), and bare ``argon2`` verify for the hash alone.  The baseline, in the same run, is
one SHA-256 of the password (what an unsalted fast hash would cost): the ratio says how much slower
each guess is made.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher

from warehouse.users import UserStore


def _ms(fn, attempts: int) -> float:
    times = []
    for _ in range(attempts):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=20)
    args = ap.parse_args()
    password = "correct horse battery"
    with tempfile.TemporaryDirectory() as tmp, UserStore(f"sqlite:///{Path(tmp)}/users.db") as store:
        store.add("ann", "admin", password)
        store.check_password("ann", password)  # warm: the engine's first connection
        right = _ms(lambda: store.check_password("ann", password), args.attempts)
        wrong = _ms(lambda: store.check_password("ann", "wrong password"), args.attempts)
        unknown = _ms(lambda: store.check_password("nobody", password), args.attempts)
    hasher = PasswordHasher()
    stored = hasher.hash(password)
    bare = _ms(lambda: hasher.verify(stored, password), args.attempts)
    sha = _ms(lambda: hashlib.sha256(password.encode()).hexdigest(), max(args.attempts, 1000))
    print(f"argon2id parameters: time_cost={hasher.time_cost} memory_cost={hasher.memory_cost} KiB "
          f"parallelism={hasher.parallelism}")
    print(f"sign-in, right password : {right:8.1f} ms per attempt (median of {args.attempts})")
    print(f"sign-in, wrong password : {wrong:8.1f} ms per attempt")
    print(f"sign-in, unknown user   : {unknown:8.1f} ms per attempt (a dummy hash is verified: no timing oracle)")
    print(f"argon2 verify alone     : {bare:8.1f} ms")
    print(f"baseline SHA-256        : {sha * 1000:8.2f} µs  → argon2 makes each guess {bare / sha:,.0f}× dearer")


if __name__ == "__main__":
    main()
