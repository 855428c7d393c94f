"""Trunk concurrency: how many calls a trunk group carried at once — the figure that sizes a trunk.

A call holds a trunk channel from ``start_utc`` (seizure, ringing included) to ``end_utc``, as the
half-open interval ``[start, end)``: a channel freed at 10:00:00 can be seized again at 10:00:00.
Peak concurrency is a **sweep line**, vectorised: every call is a +1 event at its start and a −1
event at its end; events are sorted per group (ends before starts at the same instant) and a grouped
cumulative sum gives the number of calls up after each event.  The peak is the largest such level.

Per period (``freq="h"``: per hour, ``"D"``: per day) the peak in a bucket is the level *carried
into* it (calls still up from before) or a level reached inside it; a 0-delta event at each bucket
start records the carried level, so a call spanning an hour without any event in it still counts.
No Python loop runs per call (only per trunk group, of which there are a handful).  Events of one
group, instant and kind count as one (their deltas summed): two calls released at 10:00:00 leave the
10h bucket with neither still up.

:func:`trunk_sweeps` gives the same figures straight from the lake without the event sort: CDR times
are whole seconds, so each group's level is a per-second array (``bincount`` of starts minus ends,
cumulatively summed) built from two integers per call that DuckDB computes — what the dashboard uses
at 10M calls (``docs/dev/dashboards-performance.md``).

    >>> from analytics.trunks import trunk_calls, peak_concurrency
    >>> calls = trunk_calls("callcost-demo/lake", "2026-10-01", "2026-10-31")   # doctest: +SKIP
    >>> peak_concurrency(calls)                       # peak per trunk group     # doctest: +SKIP
    >>> peak_concurrency(calls, freq="h")             # peak per group and hour  # doctest: +SKIP
    >>> concurrency_figure(peak_concurrency(calls, freq="h")).show()             # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analytics import duck
from analytics.calls import DateLike, calls_relation

__all__ = ["concurrency_figure", "hour_of_day_profile", "peak_concurrency", "trunk_calls", "trunk_concurrency",
           "trunk_groups", "trunk_sweeps"]

_END, _MARK, _START = 0, 1, 2  # sort order of events at one instant


def trunk_groups(pairs: pd.DataFrame, patterns: Sequence[tuple[str, str, str]]) -> pd.Series:
    """Group label per (pbx, trunk) row: the first ``(pbx, glob, label)`` in *patterns* that matches, else the trunk.

    *patterns* mirrors the config's ``[[trunk]]`` tables (``pbx``, ``match``), so the group of
    ``NYC-PSTN-GW1`` and ``NYC-PSTN-GW2`` is ``NYC-PSTN-*``.  Called on the distinct pairs only.
    """
    def label(pbx: str, trunk: str) -> str:
        for p, glob, name in patterns:
            if p == pbx and fnmatch.fnmatchcase(trunk, glob):
                return name
        return trunk

    return pd.Series([label(p, t) for p, t in zip(pairs["pbx"], pairs["trunk"])], index=pairs.index, dtype=object)


def trunk_calls(lake: str | os.PathLike[str], start: DateLike = None, end: DateLike = None, *,
                patterns: Sequence[tuple[str, str, str]] = ()) -> pd.DataFrame:
    """Calls that used a trunk, UTC dates *start*..*end*: pbx, trunk, trunk_group, start_utc, end_utc, duration_s.

    ``end_utc`` missing in a CDR is ``start_utc + duration_s``.  *patterns*: see :func:`trunk_groups`.
    """
    cols = ["pbx", "trunk", "trunk_group", "start_utc", "end_utc", "duration_s"]
    relation = calls_relation(lake, start, end)
    if relation is None:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    sql = (f"SELECT pbx, trunk, start_utc, coalesce(end_utc, start_utc + to_seconds(duration_s)) AS end_utc, "
           f"duration_s FROM {relation} WHERE trunk IS NOT NULL")
    with duck.connect() as con:
        df = con.sql(sql).to_arrow_table().to_pandas()
    pairs = df[["pbx", "trunk"]].drop_duplicates()
    pairs["trunk_group"] = trunk_groups(pairs, patterns)
    df = df.merge(pairs, on=["pbx", "trunk"], how="left")
    return df[cols]


def _ns(values: pd.Series) -> np.ndarray:
    """UTC instants as int64 nanoseconds (tz-aware values would otherwise become slow Python objects)."""
    return pd.to_datetime(values, utc=True).dt.tz_convert(None).to_numpy("datetime64[ns]").view("int64")


def _event_order(g: np.ndarray, t: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Sort permutation by (group, time, order): one int64 key when it fits (fast), else a lexsort."""
    lo, span = int(t.min()), int(t.max()) - int(t.min()) + 1
    if (int(g.max()) + 1) * span * 3 < 2**62:
        return np.argsort((g.astype("int64") * span + (t - lo)) * 3 + order, kind="stable")
    return np.lexsort((order, t, g))


def peak_concurrency(calls: pd.DataFrame, *, by: str = "trunk_group", freq: str | None = None) -> pd.DataFrame:
    """Peak simultaneous calls per *by* (and per *freq* bucket, e.g. ``"h"``), with when it was first reached.

    Returns columns ``by``, (``bucket``,) ``peak``, ``peak_at`` (UTC), ``calls`` (calls starting in the
    bucket / group) and ``seconds`` (their total channel-holding time, seizure to release).
    """
    out_cols = [by, *(["bucket"] if freq else []), "peak", "peak_at", "calls", "seconds"]
    if calls.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in out_cols})
    codes, groups = pd.factorize(calls[by], sort=True)
    start = _ns(calls["start_utc"])
    end = np.maximum(_ns(calls["end_utc"]), start)  # a clock-skewed CDR with end < start holds 0 s
    n = len(start)
    g = np.concatenate([codes, codes])
    t = np.concatenate([start, end])
    order = np.concatenate([np.full(n, _START, "int8"), np.full(n, _END, "int8")])
    delta = np.concatenate([np.ones(n, "int64"), -np.ones(n, "int64")])
    step = 1
    if freq:
        step = pd.Timedelta(1, unit=freq).value
        lo = pd.Series(t).groupby(g).min().to_numpy() // step * step
        hi = pd.Series(t).groupby(g).max().to_numpy() // step * step
        counts = (hi - lo) // step + 1
        mark_g = np.repeat(np.arange(len(groups)), counts)
        mark_t = np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)) * step
        g = np.concatenate([g, mark_g])
        t = np.concatenate([t, mark_t])
        order = np.concatenate([order, np.full(len(mark_t), _MARK, "int8")])
        delta = np.concatenate([delta, np.zeros(len(mark_t), "int64")])
    idx = _event_order(g, t, order)  # by group, then time, then end < mark < start
    g, t, order, delta = g[idx], t[idx], order[idx], delta[idx]
    # Events of one group, instant and kind are one event (their deltas summed), as in trunk_concurrency:
    # two calls ending at 10:00:00 leave 10:00 with both released, never with one of them still up.
    same = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (t[1:] != t[:-1]) | (order[1:] != order[:-1])])
    g, t, delta = g[same], t[same], np.add.reduceat(delta, same)
    # Every group's deltas sum to 0 and groups are contiguous: one global cumsum is each group's level.
    level = np.cumsum(delta)
    bucket = t // step * step if freq else np.zeros(len(t), "int64")
    # Events of one key (group, bucket) are contiguous: the maximum per segment, and where it is first reached.
    seg = np.flatnonzero(np.r_[True, (g[1:] != g[:-1]) | (bucket[1:] != bucket[:-1])])
    lengths = np.diff(np.r_[seg, len(t)])
    peak = np.maximum.reduceat(level, seg)
    at_peak = np.flatnonzero(level == np.repeat(peak, lengths))
    first = at_peak[np.searchsorted(at_peak, seg)]
    keys = ["g", *(["bucket"] if freq else [])]
    best = pd.DataFrame({"g": g[seg], "bucket": bucket[seg], "peak": peak, "peak_at": t[first]})[[*keys, "peak", "peak_at"]]
    vol = pd.DataFrame({"g": codes, "held": (end - start) / 1e9})
    if freq:
        vol["bucket"] = start // step * step
    volume = vol.groupby(keys, sort=True).agg(calls=("held", "size"), seconds=("held", "sum")).reset_index()
    return _peaks_frame(best, volume, groups, by=by, freq=freq)


def _peaks_frame(best: pd.DataFrame, volume: pd.DataFrame, groups, *, by: str, freq: str | None) -> pd.DataFrame:
    """The result of both sweeps: peaks per group code ``g`` (and ``bucket``, ns) joined to the volume."""
    keys = ["g", *(["bucket"] if freq else [])]
    out_cols = [by, *(["bucket"] if freq else []), "peak", "peak_at", "calls", "seconds"]
    out = best.merge(volume, on=keys, how="left").fillna({"calls": 0, "seconds": 0})
    out[by] = np.asarray(groups, dtype=object)[out["g"].to_numpy(dtype=np.int64)]
    out["calls"] = out["calls"].astype("int64")
    out["seconds"] = out["seconds"].round().astype("int64")
    out["peak"] = out["peak"].astype("int64")
    out["peak_at"] = pd.to_datetime(out["peak_at"], unit="ns", utc=True)
    if freq:
        out["bucket"] = pd.to_datetime(out["bucket"], unit="ns", utc=True)
    return out[out_cols].sort_values([by, *keys[1:]], ignore_index=True)


def trunk_concurrency(lake: str | os.PathLike[str], start: DateLike = None, end: DateLike = None, *,
                      patterns: Sequence[tuple[str, str, str]] = (), pbxs: Sequence[str] | None = None,
                      freq: str | None = None) -> pd.DataFrame:
    """``peak_concurrency(trunk_calls(lake, start, end, patterns=patterns), freq=freq)``, without pandas rows.

    See :func:`trunk_sweeps` (which gives several frequencies from one read of the lake).
    """
    return trunk_sweeps(lake, start, end, patterns=patterns, pbxs=pbxs, freqs=(freq,))[0]


def trunk_sweeps(lake: str | os.PathLike[str], start: DateLike = None, end: DateLike = None, *,
                 patterns: Sequence[tuple[str, str, str]] = (), pbxs: Sequence[str] | None = None,
                 freqs: Sequence[str | None] = (None, "h")) -> list[pd.DataFrame]:
    """``peak_concurrency(trunk_calls(...), freq=f)`` for each *f* of *freqs*, from one read of the lake.

    Why not the event sort: at 10M calls it sorts 20M events (seconds).  CDR times are whole seconds,
    so each trunk group's level is a dense array over the seconds of its span: ``bincount`` of the
    starts minus ``bincount`` of the ends, cumulatively summed, is the number of calls up in each
    second (``[start, end)``, as the sweep counts them) — linear in the calls, no sort.  A bucket's
    peak is the maximum of its seconds (the carried level is its first second's), ``peak_at`` the
    first second reaching it.  Times with a fraction of a second, or a span longer than
    :data:`DENSE_LIMIT` seconds, take the event sweep of :func:`peak_concurrency` instead (same
    figures).  *pbxs*: only calls of these PBXs (the page's site filter).
    """
    by = "trunk_group"
    empty = [pd.DataFrame({c: pd.Series([], dtype=object)
                           for c in [by, *(["bucket"] if f else []), "peak", "peak_at", "calls", "seconds"]})
             for f in freqs]
    relation = calls_relation(lake, start, end)
    if relation is None or (pbxs is not None and not list(pbxs)):
        return empty
    where = "trunk IS NOT NULL"
    if pbxs is not None:
        where += " AND pbx IN (" + ", ".join(_sql_text(p) for p in pbxs) + ")"
    held_at = ("epoch_ns(start_utc) AS s, greatest(epoch_ns(coalesce(end_utc, start_utc + to_seconds(duration_s))), "
               "epoch_ns(start_utc)) AS e")
    calls = f"(SELECT pbx, trunk, {held_at} FROM {relation} WHERE {where})"
    steps = [pd.Timedelta(1, unit=f).value // 10**9 if f else 0 for f in freqs]
    align = max([*steps, 1])  # every group's seconds start on the largest step (h and D divide each other)
    with duck.connect() as con:
        pairs = con.sql(f"SELECT pbx, trunk, min(s) AS first, max(e) AS last, count(*) AS calls, "
                        f"CAST(sum(e - s) AS DOUBLE) / 1e9 AS seconds, bool_or(s % 1000000000 <> 0 OR "
                        f"e % 1000000000 <> 0) AS fraction FROM {calls} GROUP BY ALL").to_arrow_table().to_pandas()
        if pairs.empty:
            return empty
        pairs["group"] = trunk_groups(pairs, patterns)
        groups = sorted(set(pairs["group"]))  # codes in sorted order, as pd.factorize(sort=True) gives them
        pairs["g"] = pairs["group"].map({name: i for i, name in enumerate(groups)})
        per = pairs.groupby("g").agg(first=("first", "min"), last=("last", "max"), calls=("calls", "sum"),
                                     seconds=("seconds", "sum"))
        first, last = per["first"].to_numpy() // 10**9, per["last"].to_numpy() // 10**9
        base = first // align * align
        span = last // align * align + align - base
        if pairs["fraction"].any() or int(span.max()) > DENSE_LIMIT:
            frame = con.sql(f"SELECT pbx, trunk, s, e FROM {calls}").to_arrow_table().to_pandas()
            frame = frame.merge(pairs[["pbx", "trunk", "group"]], on=["pbx", "trunk"], how="left")
            frame = pd.DataFrame({by: frame["group"], "start_utc": pd.to_datetime(frame["s"], unit="ns", utc=True),
                                  "end_utc": pd.to_datetime(frame["e"], unit="ns", utc=True)})
            return [peak_concurrency(frame, freq=f) for f in freqs]
        offset = np.r_[0, np.cumsum(span)]
        # Every group's seconds end to end in one array: a call's start and end are its indexes there,
        # computed by DuckDB (one constant per pbx and trunk), so only two integers per call leave it.
        shift = offset[pairs["g"].to_numpy()] - base[pairs["g"].to_numpy()]
        values = ", ".join(f"({_sql_text(p)}, {_sql_text(t)}, {int(c)})"
                           for p, t, c in zip(pairs["pbx"], pairs["trunk"], shift))
        table = con.sql(f"""
            WITH p(pbx, trunk, c) AS (VALUES {values})
            SELECT s // 1000000000 + p.c AS i, e // 1000000000 + p.c AS j
            FROM {calls} AS k JOIN p ON k.pbx IS NOT DISTINCT FROM p.pbx AND k.trunk = p.trunk""").to_arrow_table()
    i, j = (table.column(c).combine_chunks().to_numpy(zero_copy_only=False) for c in ("i", "j"))
    total = int(offset[-1])
    # One bincount of the starts, one of the ends, one cumulative sum: every group's +1s and −1s cancel,
    # so each group's seconds start from 0 again.
    level = np.cumsum(np.bincount(i, minlength=total) - np.bincount(j, minlength=total + 1)[:total])
    out = []
    for f, step in zip(freqs, steps):
        best = []
        for k in range(len(groups)):  # one pass per trunk group (a handful), vectorised inside
            g_level = level[offset[k]:offset[k + 1]]
            if step:
                lo, hi = int(first[k]) // step * step - base[k], int(last[k]) // step * step + step - base[k]
                rows = g_level[lo:hi].reshape(-1, step)
                starts = base[k] + lo + np.arange(len(rows)) * step
            else:
                rows = g_level[first[k] - base[k]:last[k] - base[k] + 1].reshape(1, -1)
                starts = first[k:k + 1]
            at = rows.argmax(axis=1)
            best.append(pd.DataFrame({"g": k, "bucket": starts * 10**9, "peak": rows[np.arange(len(rows)), at],
                                      "peak_at": (starts + at) * 10**9}))
        best_f = pd.concat(best, ignore_index=True)
        if step:  # calls and held seconds per group and bucket of the start: one bincount for all groups
            bucket_of = i // step  # the groups' buckets end to end (offsets are whole steps)
            count = np.bincount(bucket_of)
            used = np.flatnonzero(count)
            group_of = np.searchsorted(offset // step, used, side="right") - 1
            vol = pd.DataFrame({"g": group_of,
                                "bucket": (base[group_of] + (used - offset[group_of] // step) * step) * 10**9,
                                "calls": count[used],
                                "seconds": np.bincount(bucket_of, weights=(j - i).astype(np.float64))[used]})
        else:
            best_f = best_f.drop(columns="bucket")
            vol = per[["calls", "seconds"]].reset_index()
        out.append(_peaks_frame(best_f, vol, groups, by=by, freq=f))
    return out


#: The longest span (seconds) a trunk group's dense per-second level is built for: 400 days (3 GB never).
DENSE_LIMIT = 400 * 86_400


def _sql_text(value) -> str:
    return "NULL" if value is None or value != value else "'" + str(value).replace("'", "''") + "'"


def hour_of_day_profile(hourly: pd.DataFrame, *, by: str = "trunk_group",
                        timezones: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Peak per group and hour of the day (0–23) over the whole range: rows = groups, columns = hours.

    *hourly* is ``peak_concurrency(calls, freq="h")``; *timezones* maps a group to the IANA zone whose
    wall clock the hours are in (default UTC), so a trunk's busy hour reads in its site's time.
    """
    if hourly.empty:
        return pd.DataFrame(columns=range(24), dtype="int64")
    frames = []
    for group, part in hourly.groupby(by, sort=True):  # one iteration per trunk group
        tz = (timezones or {}).get(group, "UTC")
        hours = part["bucket"].dt.tz_convert(tz).dt.hour
        frames.append(part.assign(hour=hours.to_numpy()))
    both = pd.concat(frames, ignore_index=True)
    table = both.pivot_table(index=by, columns="hour", values="peak", aggfunc="max", fill_value=0)
    return table.reindex(columns=range(24), fill_value=0).astype("int64")


def concurrency_figure(hourly: pd.DataFrame, *, by: str = "trunk_group") -> go.Figure:
    """Peak simultaneous calls per hour, one line per trunk group (from ``peak_concurrency(..., freq="h")``)."""
    fig = go.Figure()
    for group, part in hourly.groupby(by, sort=True):
        fig.add_scatter(x=part["bucket"], y=part["peak"], mode="lines", name=str(group), line_shape="hv")
    fig.update_layout(title="Peak simultaneous calls per hour", xaxis_title="hour (UTC)", yaxis_title="calls",
                      legend={"orientation": "h", "y": -0.2})
    return fig
