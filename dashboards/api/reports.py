"""A named report rendered through the API, scoped to the caller.

The report types (``callcost.reports`` entry points, :mod:`analytics.reporting.registry`) build from
a lake.  For a caller who sees everything that is the lake itself.  For a manager it is a lake of
their calls only: the scoped selection of the month written as a temporary lake (DuckDB ``COPY``, the
same date partitions), with the config's sites, PBXs and trunks narrowed to their sites — so every
report type, present or future, is scoped without knowing about scopes, and no figure of another site
can reach the rendering.  Costs one write of the manager's month; a report is not a hot path.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from analytics.reporting.model import ReportError
from analytics.reporting.registry import registered_reports
from analytics.selection import CallSelection
from dashboards.api.params import BadParameter
from dashboards.filters import Scope
from dashboards.pages import PageContext
from warehouse.config import Enterprise
from warehouse.errors import CallcostError

__all__ = ["MEDIA", "UnknownReport", "render_report", "scoped_config", "scoped_lake"]

MEDIA = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "csv": "text/csv",
         "json": "application/json", "html": "text/html", "txt": "text/plain"}


class UnknownReport(CallcostError, LookupError):
    """No report type of that name is installed: HTTP 404."""

    status_code = 404


def scoped_lake(sel: CallSelection, folder: Path) -> Path:
    """The calls of *sel* written as a lake under *folder* (date partitions, as the store writes them)."""
    target = folder / "calls"
    target.mkdir(parents=True)
    if sel.empty:
        return folder
    with sel.open() as (con, calls):
        path = str(target).replace("'", "''")
        con.execute(f"COPY (SELECT * FROM {calls}) TO '{path}' (FORMAT parquet, PARTITION_BY (date), "
                    "OVERWRITE_OR_IGNORE true)")
    return folder


def scoped_config(ent: Enterprise | None, scope: Scope | None) -> Enterprise | None:
    """*ent* with only the sites (and their PBXs and trunks) a site-scoped manager may see."""
    if ent is None or scope is None or scope.sites is None:
        return ent
    pbxs = {k: p for k, p in ent.pbxs.items() if p.site in scope.sites}
    return dataclasses.replace(ent, sites={k: s for k, s in ent.sites.items() if k in scope.sites}, pbxs=pbxs,
                               trunks=tuple(t for t in ent.trunks if t.site in scope.sites))


def render_report(ctx: PageContext, name: str, period: str, fmt: str, sel: CallSelection,
                  scope: Scope | None) -> tuple[bytes, str, str]:
    """(body, media type, file name) of report *name* for *period* as *fmt*, from the calls *sel* holds."""
    types = registered_reports()
    if name not in types:
        raise UnknownReport(f"no report '{name}' (installed: {', '.join(sorted(types))})")
    try:
        report = types[name](config=scoped_config(ctx.ent, scope))
    except ReportError as exc:
        raise BadParameter("name", str(exc)) from exc
    if fmt not in report.formats:
        raise BadParameter("format", f"parameter format: report '{name}' cannot render {fmt} "
                                     f"(supported: {', '.join(report.formats)})")
    with tempfile.TemporaryDirectory(prefix="callcost-api-") as tmp:
        lake = ctx.lake if scope is None else scoped_lake(sel, Path(tmp) / "lake")
        data = report.build(lake, period, ctx.currency)
        (Path(tmp) / "out").mkdir()
        path = report.render(data, fmt, Path(tmp) / "out")
        return path.read_bytes(), MEDIA.get(fmt, "application/octet-stream"), path.name
