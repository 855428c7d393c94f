"""What the cluster tests and ``benchmarks/bench_cluster.py`` share: sample enterprises, CUCM files, comparisons.

Two enterprises built from the sample (``callcost demo``'s) that differ only in where they store — so
the one-process and the cluster path can import the *same* file paths (a call's ``raw_ref`` names its
file) and their lakes and databases be compared row for row.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from callcost.demo import build_sample
from collector.simulate.demo_files import write_demo_files
from collector.simulate.traffic import generate_traffic
from warehouse import lake
from warehouse.config import Enterprise, load_config
from warehouse.database import Database

PBX = "nyc-cucm"
#: Columns that differ between two ratings of the same call without the call having changed.
VOLATILE = ("rated_at",)


def enterprise_at(directory: Path, database: str | None = None) -> Enterprise:
    """The sample enterprise in *directory*, its database *database* (default: SQLite beside the config)."""
    config = build_sample(directory)
    if database is not None:
        text = config.read_text(encoding="utf-8").replace('database = "sqlite:///callcost.db"',
                                                           f'database = "{database}"')
        config.write_text(text, encoding="utf-8")
    return load_config(config)


def cucm_files(ent: Enterprise, cdrs: int, *, seed: int = 7) -> list[Path]:
    """About *cdrs* CUCM CDRs of the sample's generated traffic, as hourly CUCM flat files under *ent*'s folder."""
    traffic = generate_traffic(ent, calls=int(cdrs / 0.455) + 1000, seed=seed)  # the CUCM cluster: ~45.5%
    cucm = traffic.filter(pc.equal(traffic.column("pbx"), PBX))
    return sorted(write_demo_files(ent, cucm.slice(0, min(cdrs, cucm.num_rows)), ent.root)[PBX])


def lake_rows(ent: Enterprise) -> pa.Table:
    """Every call of the lake, by ``call_id``, without the volatile columns."""
    table = lake.read_calls(ent.storage.lake, scale=ent.scale)
    return table.drop_columns([c for c in VOLATILE if c in table.column_names]).sort_by("call_id")


def database_rows(ent: Enterprise) -> list[dict]:
    """Every call of the database, by ``call_id``, without the volatile columns."""
    with Database(ent.storage.database, ent.scale) as db:
        frame = db.read_calls()
    frame = frame.drop(columns=[c for c in VOLATILE if c in frame.columns]).sort_values("call_id")
    return frame.to_dict("records")


def lake_ids(ent: Enterprise) -> list[str]:
    """Every ``call_id`` the lake holds, repeats included (a doubled call shows twice)."""
    return lake.read_calls(ent.storage.lake, columns=["call_id"], scale=ent.scale).column("call_id").to_pylist()


def link_holder(db_url: str, pbx: str) -> str | None:
    """Who holds *pbx*'s link now (``host pid N since …``), from ``link_holders`` and ``pg_locks``; None: nobody."""
    import sqlalchemy as sa

    from collector.leases import current_holders

    engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
    try:
        return current_holders(engine).get(pbx)
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()


def held_by(db_url: str, pbx: str, pid: int) -> bool:
    """Whether the collector process *pid* holds *pbx*'s link."""
    holder = link_holder(db_url, pbx)
    return holder is not None and f" pid {pid} " in holder
