"""Where a bulk job's tasks run: a Dask cluster (``--cluster ADDRESS``, ``[cluster] address``).

Why Dask and not our own workers: the scheduler already does what a bulk import or re-rate needs —
hand tasks to worker processes, notice a worker that died (kill -9, an OOM kill) and run its tasks
again elsewhere — so callcost only has to make each task idempotent (the lake skips or replaces by
``call_id``, the database too).  Dask is an optional extra (``pip install 'callcost[cluster]'``):
nothing imports it unless a job is given a cluster.

Addresses:

* ``local:N`` — start a ``LocalCluster`` of *N* worker processes (one thread each: parsing, rating
  and Parquet encoding release the GIL only in parts, so processes, not threads, scale) for the
  job's duration;
* anything else (``tcp://scheduler:8786``) — an existing ``dask scheduler``; its workers must have
  callcost installed and see the config, its tariff files and the lake at the same paths (a shared
  mount, see ``docs/scale-out.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from warehouse.errors import CallcostError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterError", "address_for", "connect", "chunks", "worker_count"]

LOCAL = "local:"
T = TypeVar("T")


class ClusterError(CallcostError):
    """A cluster address that cannot be used (``local:0``, Dask not installed, no scheduler there)."""


def address_for(raw_config: dict[str, Any], given: str | None) -> str | None:
    """The cluster a job runs on: ``--cluster`` if given, else ``[cluster] address``, else None (one process)."""
    if given:
        return given
    found = raw_config.get("cluster", {}).get("address")
    return str(found) if found else None


@contextmanager
def connect(address: str) -> Iterator["Client"]:
    """A Dask client for *address* (see the module doc); a ``local:N`` cluster is shut down on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:  # pragma: no cover - the extra is installed where tests run
        raise ClusterError("--cluster needs Dask: pip install 'callcost[cluster]'") from exc
    if address.startswith(LOCAL):
        text = address[len(LOCAL):]
        if not text.isdigit() or int(text) < 1:
            raise ClusterError(f"cluster address '{address}': expected local:N with N ≥ 1 worker processes")
        with LocalCluster(n_workers=int(text), processes=True, threads_per_worker=1, dashboard_address=":0",
                          silence_logs=40) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout="10s")
    except OSError as exc:
        raise ClusterError(f"no Dask scheduler answers at {address}: {exc}") from exc
    with client:
        yield client


def worker_count(client: "Client") -> int:
    """Workers the scheduler knows now (at least 1, for sizing tasks)."""
    return max(len(client.scheduler_info().get("workers", {})), 1)


def chunks(items: Sequence[T], sizes: Sequence[int], target: int, *, at_least: int = 1) -> list[list[T]]:
    """*items* in order, cut into consecutive groups of about *target* (by *sizes*), at least *at_least* groups.

    Why consecutive: a group is one task whose results the coordinator applies in order, so a chain of
    legs split across files meets the same stored legs as in the one-process path.
    """
    if not items:
        return []
    total = sum(sizes)
    target = max(1, min(target, math.ceil(total / max(at_least, 1)) if total else target))
    out: list[list[T]] = [[]]
    size = 0
    for item, n in zip(items, sizes):
        if out[-1] and size + n > target:
            out.append([])
            size = 0
        out[-1].append(item)
        size += n
    return out


def file_sizes(paths: Sequence[Path]) -> list[int]:
    """Bytes of each file (what import tasks are sized by)."""
    return [Path(p).stat().st_size for p in paths]
