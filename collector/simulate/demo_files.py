"""Generated traffic written as each PBX would deliver it: vendor files in the PBX's drop folder.

``callcost demo`` feeds the sample month through the *real* collector, so the calls must arrive as
bytes in vendor formats, not as an Arrow table.  Each PBX type names its writer in ``WRITERS`` (a
registry, not an if-chain: a new simulated PBX type is one entry); the files go to the folder of the
PBX's ``source = "folder:…"`` (relative paths are relative to *out_root*, normally the config folder).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from warehouse.config import Enterprise, Pbx

#: Writes one PBX's calls into *folder* and returns the files written.
Writer = Callable[[pa.Table, Path, Pbx, Enterprise], list[Path]]


def _write_cucm(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """CUCM flat files, one per hour (a billing server usually pushes every minute; an hour keeps a month
    of demo traffic to ~750 files per cluster)."""
    from collector.simulate.writers import write_cucm_files

    cluster = str(pbx.options.get("cluster", "StandAloneCluster"))
    return write_cucm_files(calls, folder, cluster=cluster, minutes_per_file=60)


def _write_canonical_csv(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """One canonical CSV per day, cut at the PBX's local midnight, as a nightly export would be."""
    from collector.simulate.writers import write_canonical_csv

    if calls.num_rows == 0:
        return []
    zone = ent.sites[pbx.site].timezone
    start = pd.Series(calls.column("start_utc").to_pandas())
    day = start.dt.tz_convert(zone).dt.strftime("%Y-%m-%d").to_numpy()
    paths = []
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        paths.append(write_canonical_csv(calls.take(pa.array(rows)), folder / f"{pbx.id}-{d}.csv"))
    return paths


WRITERS: dict[str, Writer] = {
    "cucm": _write_cucm,
    "canonical-csv": _write_canonical_csv,
}


def source_folder(pbx: Pbx, out_root: Path) -> Path:
    """Where a PBX's files go: its ``folder:`` source (relative to *out_root*), else ``incoming/<pbx id>``."""
    target = pbx.source_target if pbx.source_kind == "folder" else ""
    folder = Path(target) if target else Path("incoming") / pbx.id
    return folder if folder.is_absolute() else out_root / folder


def write_demo_files(ent: Enterprise, traffic: pa.Table, out_root: Path) -> dict[str, list[Path]]:
    """Split *traffic* per PBX and write each PBX's calls in its vendor format; returns PBX id → files."""
    jobs = []
    for pbx in ent.pbxs.values():
        calls = traffic.filter(pc.equal(traffic.column("pbx"), pbx.id))
        if calls.num_rows == 0:
            continue
        writer = WRITERS.get(pbx.type)
        if writer is None:  # checked for every PBX before any file is written: no half-written demo
            raise ValueError(
                f"cannot simulate PBX '{pbx.id}': no demo writer for type '{pbx.type}' "
                f"(have: {', '.join(sorted(WRITERS))})"
            )
        jobs.append((pbx, calls, writer))
    written: dict[str, list[Path]] = {}
    for pbx, calls, writer in jobs:
        folder = source_folder(pbx, out_root)
        folder.mkdir(parents=True, exist_ok=True)
        written[pbx.id] = writer(calls, folder, pbx, ent)
    return written
