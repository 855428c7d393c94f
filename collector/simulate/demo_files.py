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

from collector.connectors.asterisk import CDR_CUSTOM_LEGACY, cdr_csv_columns
from collector.connectors.base import PbxContext
from collector.connectors.freeswitch import FreeswitchConnector
from collector.simulate.cucm_and_canonical_csv import write_canonical_csv, write_cucm_files
from collector.simulate.record_formats import write_asterisk, write_avaya, write_freeswitch, write_smdr
from warehouse.config import Enterprise, Pbx

#: Writes one PBX's calls into *folder* and returns the files written.
Writer = Callable[[pa.Table, Path, Pbx, Enterprise], list[Path]]


def _write_cucm(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """CUCM flat files, one per hour (a billing server usually pushes every minute; an hour keeps a month
    of demo traffic to ~750 files per cluster)."""
    cluster = str(pbx.options.get("cluster", "StandAloneCluster"))
    return write_cucm_files(calls, folder, cluster=cluster, minutes_per_file=60)


def _write_canonical_csv(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """One canonical CSV per day, cut at the PBX's local midnight, as a nightly export would be."""
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


def _write_avaya(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """One Avaya CM file in the PBX's layout and field list (``layout``, ``fields``, ``date_format``)."""
    opts = pbx.options
    fields = opts.get("fields", "sszokoly")
    return [write_avaya(calls, Path(folder) / f"{pbx.id}.cdr", timezone=ent.sites[pbx.site].timezone,
                        layout=str(opts.get("layout", "customized")),
                        fields=fields if isinstance(fields, str) else [tuple(f) for f in fields],
                        date_format=opts.get("date_format"))]


def _write_asterisk(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """Asterisk's ``Master.csv`` with the columns the PBX's options make cdr_csv/cdr_custom write."""
    opts = pbx.options
    columns = opts.get("columns", "cdr_csv")
    if columns == "cdr_custom":
        columns = CDR_CUSTOM_LEGACY
    elif not isinstance(columns, list):
        flags = [bool(opts.get(k, True)) for k in ("loguniqueid", "loguserfield", "newcdrcolumns")]
        columns = cdr_csv_columns(*flags)
    return [write_asterisk(calls, Path(folder) / "Master.csv", timezone=ent.sites[pbx.site].timezone,
                           usegmtime=bool(opts.get("usegmtime", False)), columns=columns)]


def _write_freeswitch(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """FreeSWITCH's ``Master.csv`` in the PBX's template."""
    columns = FreeswitchConnector(PbxContext(pbx.id, pbx.site, "UTC", dict(pbx.options))).columns
    return [write_freeswitch(calls, Path(folder) / "Master.csv", timezone=ent.sites[pbx.site].timezone,
                             columns=columns)]


def _write_smdr(calls: pa.Table, folder: Path, pbx: Pbx, ent: Enterprise) -> list[Path]:
    """One SMDR capture in the PBX's ``layout`` (IPO, HiPath, Panasonic, NEC)."""
    layout = str(pbx.options.get("layout", "ipo"))
    return [write_smdr(calls, Path(folder) / f"{pbx.id}.smdr", layout=layout, timezone=ent.sites[pbx.site].timezone)]


#: PBX type → its demo writer, each honouring the PBX's own options (layout, columns, template, time zone).
WRITERS: dict[str, Writer] = {
    "cucm": _write_cucm,
    "canonical-csv": _write_canonical_csv,
    "avaya": _write_avaya,
    "asterisk": _write_asterisk,
    "freeswitch": _write_freeswitch,
    "smdr": _write_smdr,
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
