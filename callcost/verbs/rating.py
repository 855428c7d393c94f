"""The rating verbs: ``callcost explain CALL_ID`` and ``callcost rerate --from DATE --to DATE``.

Thin shells over :mod:`analytics.explain_call` and :mod:`analytics.rerate`; a notebook calls the same
functions (``explain_stored_call(ent, call_id).text()``, ``rerate(ent, start, end)``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from callcost.cli_common import ClusterOpt, ConfigOpt, check_order, console, enterprise, parse_day, progress_bar

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``explain`` and ``rerate`` to the CLI."""
    app.command("explain")(explain)
    app.command("rerate")(rerate)


def explain(
    call_id: Annotated[str, typer.Argument(help="The stored call's call_id (see `callcost export`).")],
    config: ConfigOpt = None,
) -> None:
    """Explain step by step how a stored call's actual and reference cost were computed.

    Shows the classification, the tariff row used (file and line), the local time and band (DST,
    holidays), billable seconds, connect fee, half-up rounding and split-band parts, and whether the
    stored figures still match today's config.

    Example: callcost explain cucm:nyc-cucm:1:1234567
    """
    from analytics.explain_call import explain_stored_call

    result = explain_stored_call(enterprise(config), call_id)
    for line in result.lines:
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def rerate(
    start: Annotated[str, typer.Option("--from", help="First UTC date to re-rate, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last UTC date to re-rate (inclusive), YYYY-MM-DD.")],
    config: ConfigOpt = None,
    cluster: ClusterOpt = None,
) -> None:
    """Re-price stored calls of a date range with the current tariffs, config and directory (idempotent).

    Only calls whose figures change are rewritten, in the database and the lake; a second run changes
    nothing.  Prints the calls re-rated, the previously unrated calls now priced and the totals
    before and after.

    With --cluster (or [cluster] address), runs of days are re-rated by the workers of a Dask cluster.

    Example: callcost rerate --from 2026-10-01 --to 2026-10-31
    """
    from analytics.rerate import rerate as run
    from warehouse import cluster as dask_cluster

    lo, hi = parse_day(start, "--from"), parse_day(end, "--to")
    check_order(lo, hi)
    ent = enterprise(config)
    with progress_bar() as progress:
        task = progress.add_task("re-rating", total=(hi - lo).days + 1)

        def step(day: date, calls: int) -> None:
            progress.update(task, completed=(day - lo).days + 1, description=f"re-rating {day} ({calls:,} calls)")

        address = dask_cluster.address_for(ent.raw, cluster)
        if address is None:
            result = run(ent, lo, hi, progress=step)
        else:
            from analytics.cluster_rerate import rerate_on_cluster

            with dask_cluster.connect(address) as client:
                result = rerate_on_cluster(ent, lo, hi, client=client, progress=step)
    for line in result.summary_lines(ent.currency):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
