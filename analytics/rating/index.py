"""The lookup index a tariff is compiled into, once, so that rating is array arithmetic.

Three layers, each answered for millions of calls with a handful of numpy operations:

1. **Prefix nodes.**  Every distinct prefix *p* of length *L* covers the interval
   ``[p·10^(W−L), (p+1)·10^(W−L))`` of W-digit, right-zero-padded numbers; nested prefixes give
   nested intervals, so the line cuts into elementary intervals each labelled with its *longest*
   prefix.  A call's padded number finds its label through a direct table on the first
   ``TOP_DIGITS`` digits (one gather); a bucket that holds a boundary points to a 10-entry block
   for the next digit, and so on (one small gather per level, only for the calls that need it).
   ``parent`` walks to the next shorter prefix when a node has nothing for the call.
2. **Entries.**  Under each node, one entry per (plan, origin, validity segment): the row set in
   force over a date range.  Entries are ordered so the first one whose origin matches and whose
   dates contain the call's local date is the one that prices it (longest origin first, the
   empty origin last).
3. **Band timelines.**  Entries with the same band layout share a *pattern*; for each pattern and
   each of 14 day types (weekday × holiday or not) a sorted list of ``[start, end)`` second ranges
   maps the local time of day to a slot of the entry's rows (holiday rows win on holidays, the
   weekday rows apply where no holiday row does).  The same timelines are also tabulated per
   (pattern, day type, minute of day) — ``band_minute`` — since bands start on whole minutes.

For one batch, ``resolve_entries`` settles per prefix node the entry every call reaching it will
use whatever its origin and date (the usual case: one empty-origin row set in force all batch
long); only calls at the other nodes go through the per-call origin and validity search.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from analytics.rating.tariffs import EPOCH, HOLIDAY_BIT, OPEN_END, Tariff
from warehouse.errors import ConfigError

WIDTH = 15  # digits of the padded number space (E.164 maximum)
TOP_DIGITS = 6  # direct table size 10**6 int32 = 4 MB
DAY_S = 86_400
DAY_TYPES = 14  # 0..6 = Monday..Sunday, 7..13 = the same weekday on a holiday
DAY_MIN = 1_440
REFINE = -2  # top table: the bucket holds a boundary (see `levels`); band_minute: a band changes inside the minute
MAX_BAND_MINUTE_CELLS = 8_000_000  # int16 pattern × day type × minute cells (16 MB); more patterns use searchsorted
#: resolve_entries codes (negative: no entry; SEARCH: ask per call)
NO_PREFIX_CODE, NO_VERSION_CODE, SEARCH = -1, -2, -3


@dataclass(frozen=True, eq=False)
class LookupIndex:
    # prefix nodes
    node_prefix: np.ndarray  # object (str)
    node_len: np.ndarray  # int64
    node_parent: np.ndarray  # int64, -1 = none
    node_entry_start: np.ndarray  # int64
    node_entry_count: np.ndarray  # int64
    top: np.ndarray  # int32 label per TOP_DIGITS bucket, -1 none, REFINE = look in points
    points: np.ndarray  # int64 sorted starts of elementary intervals
    labels: np.ndarray  # int64 node per elementary interval (-1 none)
    levels: list  # int32 tables per digit after TOP_DIGITS: block·10 + digit → label (≤ REFINE: block -2 - v)
    max_len: int  # longest prefix
    # entries (row sets in force over a date range)
    e_from: np.ndarray  # int64 days, inclusive
    e_to: np.ndarray  # int64 days, inclusive
    e_origin: np.ndarray  # int64 index into origins (0 = "")
    e_pattern: np.ndarray  # int64
    e_rows_start: np.ndarray  # int64 into slot_rows
    e_rows_count: np.ndarray  # int64
    max_entries: int
    origins: list[str]
    slot_rows: np.ndarray  # int64 tariff row of each slot
    # band timelines
    tl_key: np.ndarray  # int64 (pattern·14 + day type)·86400 + start second, sorted
    tl_end: np.ndarray  # int64 end second of the range
    tl_slot: np.ndarray  # int64 slot, -1 = no band
    n_patterns: int
    band_minute: np.ndarray | None  # int16 (pattern·14 + day type)·1440 + minute → slot, -1 none, REFINE
    e_band_base: np.ndarray  # int64 pattern·14·1440 per entry (offset into band_minute)
    resolved: dict  # (first day, last day) → resolve_entries result (a few batches' worth)

    def lookup_nodes(self, padded: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Longest prefix node of each padded number, -1 for none (length guards short numbers)."""
        step = 10 ** (WIDTH - TOP_DIGITS)
        lab = self.top[padded // step]
        if self.levels:
            fine = np.flatnonzero(lab <= REFINE)
            for level, table in enumerate(self.levels):
                if not fine.size:
                    break
                digit = padded[fine] // 10 ** (WIDTH - TOP_DIGITS - 1 - level) % 10
                got = table[(REFINE - lab[fine]).astype(np.int64) * 10 + digit]
                lab[fine] = got
                fine = fine[got <= REFINE]
        lab = lab.astype(np.int64)
        if length.size and int(length.min()) >= self.max_len:
            return lab
        # a number shorter than the prefix only looks like it matches (its padding zeros do): go up
        while True:
            bad = np.flatnonzero((lab >= 0) & (self.node_len[np.maximum(lab, 0)] > length))
            if not bad.size:
                return lab
            lab[bad] = self.node_parent[lab[bad]]

    def resolve_entries(self, first_day: int, last_day: int) -> np.ndarray:
        """Per node (plus a last cell for "no node"): the entry every call of local days in
        ``[first_day, last_day]`` reaching it uses, ``NO_PREFIX_CODE``/``NO_VERSION_CODE`` when none
        can, or ``SEARCH`` when the answer depends on the call's origin or date."""
        key = (first_day, last_day)
        got = self.resolved.get(key)
        if got is not None:
            return got
        n = len(self.node_len)
        res = np.full(n + 1, NO_PREFIX_CODE, dtype=np.int64)
        version_seen = np.zeros(n, dtype=bool)
        open_ = np.arange(n)  # nodes still walking up their chain
        cur = open_.copy()
        while open_.size:
            settled = np.zeros(open_.size, dtype=bool)
            nd = cur[open_]
            count = self.node_entry_count[nd]
            start = self.node_entry_start[nd]
            for j in range(self.max_entries):
                sel = np.flatnonzero(~settled & (count > j))
                if not sel.size:
                    break
                e = start[sel] + j
                any_origin = self.e_origin[e] == 0
                overlap = (self.e_from[e] <= last_day) & (self.e_to[e] >= first_day)
                whole = (self.e_from[e] <= first_day) & (self.e_to[e] >= last_day)
                take = any_origin & whole
                ask = ~any_origin | (overlap & ~whole)
                res[open_[sel[take]]] = e[take]
                res[open_[sel[ask & ~take]]] = SEARCH
                settled[sel[take | ask]] = True
                version_seen[open_[sel[any_origin & ~overlap]]] = True
            walk = open_[~settled]
            cur[walk] = self.node_parent[cur[walk]]
            ended = walk[cur[walk] < 0]
            res[ended] = np.where(version_seen[ended], NO_VERSION_CODE, NO_PREFIX_CODE)
            open_ = walk[cur[walk] >= 0]
        if len(self.resolved) >= 8:
            self.resolved.pop(next(iter(self.resolved)))
        self.resolved[key] = res
        return res

    def band_slots(self, pattern: np.ndarray, day_type: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(slot or -1, end second of the band's range) for each call's local day type and second."""
        key = (pattern * DAY_TYPES + day_type) * DAY_S + second
        pos = np.searchsorted(self.tl_key, key, side="right") - 1
        return self.tl_slot[pos], self.tl_end[pos]

    def weekday_gaps(self) -> dict[int, list[str]]:
        """Pattern → readable weekday ranges no band covers (for ``band_coverage_gaps``)."""
        out: dict[int, list[str]] = {}
        holes = np.flatnonzero(self.tl_slot < 0)
        for h in holes:
            key = int(self.tl_key[h])
            pattern, rem = divmod(key, DAY_TYPES * DAY_S)
            day_type, start = divmod(rem, DAY_S)
            if day_type >= 7:
                continue
            name = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[day_type]
            out.setdefault(pattern, []).append(f"{name} {_hhmm(start)}-{_hhmm(int(self.tl_end[h]))}")
        return out


def _hhmm(sec: int) -> str:
    return f"{sec // 3600:02d}:{sec % 3600 // 60:02d}"


def lookup_index(tariff: Tariff) -> LookupIndex:
    """The tariff's index, built on first use and kept on the tariff."""
    idx = tariff._cache.get("index")
    if idx is None:
        idx = _build(tariff)
        tariff._cache["index"] = idx
    return idx


def _build(t: Tariff) -> LookupIndex:
    n = len(t)
    # ---- groups (plan, origin, prefix) and their date segments -> entries
    groups: dict[tuple[str, str, str], list[int]] = {}
    for r in range(n):
        groups.setdefault((t.prefix[r], t.origin[r], t.plan[r]), []).append(r)
    node_prefixes = sorted({k[0] for k in groups})
    node_of = {p: i for i, p in enumerate(node_prefixes)}
    origins = [""] + sorted({o for o in t.origin if o})
    origin_of = {o: i for i, o in enumerate(origins)}

    patterns: dict[tuple, int] = {}
    entries: list[tuple] = []  # (node, -origin_len, first_row, from, to, origin_idx, pattern, rows)
    for (prefix, origin, _plan), rows in groups.items():
        vf = t.valid_from[rows].astype(np.int64)
        vt = t.valid_to[rows].astype(np.int64)
        bounds = np.unique(np.concatenate([vf, vt + 1]))
        for a, b in zip(bounds[:-1], bounds[1:]):
            live = [r for r, f, to in zip(rows, vf, vt) if f <= a and to >= b - 1]
            if not live:
                continue
            live.sort(key=lambda r: (int(t.days[r]), int(t.time_from[r]), int(t.time_to[r]), r))
            shape = tuple((int(t.days[r]), int(t.time_from[r]), int(t.time_to[r])) for r in live)
            pat = patterns.setdefault(shape, len(patterns))
            entries.append((node_of[prefix], -len(origin), min(rows), int(a), int(b - 1), origin_of[origin], pat, live))
    entries.sort(key=lambda e: (e[0], e[1], e[2], e[3]))

    n_nodes = len(node_prefixes)
    e_node = np.array([e[0] for e in entries], dtype=np.int64)
    node_entry_start = np.searchsorted(e_node, np.arange(n_nodes), side="left").astype(np.int64)
    node_entry_count = (np.searchsorted(e_node, np.arange(n_nodes), side="right") - node_entry_start).astype(np.int64)
    rows_count = np.array([len(e[7]) for e in entries], dtype=np.int64)
    rows_start = np.concatenate([[0], np.cumsum(rows_count)[:-1]]).astype(np.int64) if entries else rows_count
    slot_rows = np.array([r for e in entries for r in e[7]], dtype=np.int64)

    node_len, node_parent, top, points, labels, levels = _prefix_space(node_prefixes)
    tl_key, tl_end, tl_slot = _timelines(patterns)
    e_pattern = np.array([e[6] for e in entries], dtype=np.int64)
    return LookupIndex(
        node_prefix=np.array(node_prefixes, dtype=object), node_len=node_len, node_parent=node_parent,
        node_entry_start=node_entry_start, node_entry_count=node_entry_count,
        top=top, points=points, labels=labels, levels=levels, max_len=int(node_len.max()) if n_nodes else 0,
        e_from=np.array([e[3] for e in entries], dtype=np.int64), e_to=np.array([e[4] for e in entries], dtype=np.int64),
        e_origin=np.array([e[5] for e in entries], dtype=np.int64),
        e_pattern=e_pattern,
        e_rows_start=rows_start, e_rows_count=rows_count,
        max_entries=int(node_entry_count.max()) if n_nodes else 0,
        origins=origins, slot_rows=slot_rows,
        tl_key=tl_key, tl_end=tl_end, tl_slot=tl_slot, n_patterns=len(patterns),
        band_minute=_band_minutes(tl_key, tl_end, tl_slot, len(patterns)),
        e_band_base=e_pattern * (DAY_TYPES * DAY_MIN), resolved={},
    )


def _prefix_space(prefixes: list[str]) -> tuple[np.ndarray, ...]:
    """Elementary intervals of the padded number line, labelled with their longest prefix."""
    n = len(prefixes)
    node_len = np.array([len(p) for p in prefixes], dtype=np.int64)
    starts = [int(p) * 10 ** (WIDTH - len(p)) for p in prefixes]
    ends = [(int(p) + 1) * 10 ** (WIDTH - len(p)) for p in prefixes]
    order = sorted(range(n), key=lambda i: (starts[i], -ends[i]))
    parent = np.full(n, -1, dtype=np.int64)
    pts: list[int] = [0]
    labs: list[int] = [-1]

    def emit(point: int, label: int) -> None:
        if pts[-1] == point:
            labs[-1] = label
        else:
            pts.append(point)
            labs.append(label)

    stack: list[int] = []
    for i in order:
        while stack and ends[stack[-1]] <= starts[i]:
            done = stack.pop()
            emit(ends[done], stack[-1] if stack else -1)
        parent[i] = stack[-1] if stack else -1
        emit(starts[i], i)
        stack.append(i)
    while stack:
        done = stack.pop()
        emit(ends[done], stack[-1] if stack else -1)
    points = np.array(pts, dtype=np.int64)
    labels = np.array(labs, dtype=np.int64)

    # the direct table on the first TOP_DIGITS digits, then a 10-entry block per digit for buckets
    # that still hold a boundary; a refined cell stores REFINE - (its block's number)
    buckets = np.arange(10**TOP_DIGITS, dtype=np.int64)
    top, refine = _label_buckets(points, labels, buckets, TOP_DIGITS)
    levels: list[np.ndarray] = []
    digits = TOP_DIGITS
    while refine.size:
        top_or_prev = top if not levels else levels[-1]
        top_or_prev[refine] = REFINE - np.arange(refine.size, dtype=np.int32)
        parents = buckets[refine]
        digits += 1
        buckets = (parents[:, None] * 10 + np.arange(10, dtype=np.int64)).ravel()
        table, refine = _label_buckets(points, labels, buckets, digits)
        levels.append(table)
    return node_len, parent, top, points, labels, levels


def _label_buckets(points: np.ndarray, labels: np.ndarray, buckets: np.ndarray, digits: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Label of each *digits*-digit bucket (int32), and the positions of buckets holding a boundary."""
    step = 10 ** (WIDTH - digits)
    start = buckets * step
    first = np.searchsorted(points, start, side="right")
    inside = np.searchsorted(points, start + step, side="left") - first
    table = labels[first - 1].astype(np.int32)
    return table, np.flatnonzero(inside > 0)


def _band_minutes(tl_key: np.ndarray, tl_end: np.ndarray, tl_slot: np.ndarray, n_patterns: int) -> np.ndarray | None:
    """The timelines per whole minute: slot, -1 (no band) or REFINE where a band changes mid-minute."""
    cells = n_patterns * DAY_TYPES * DAY_MIN
    if not cells or cells > MAX_BAND_MINUTE_CELLS or tl_slot.max() >= np.iinfo(np.int16).max:
        return None
    start = np.arange(cells, dtype=np.int64) * 60  # (pattern·14 + day type)·86400 + minute·60
    pos = np.searchsorted(tl_key, start, side="right") - 1
    table = tl_slot[pos].astype(np.int16)
    table[tl_end[pos] - start % DAY_S < 60] = REFINE
    return table


def _timelines(patterns: dict[tuple, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pattern and day type: sorted [start, end) second ranges → slot (-1 = no band)."""
    keys: list[int] = []
    ends: list[int] = []
    slots: list[int] = []
    for shape, pat in sorted(patterns.items(), key=lambda kv: kv[1]):
        cuts = sorted({0, DAY_S} | {f for _, f, _ in shape} | {to for _, _, to in shape})
        for day_type in range(DAY_TYPES):
            weekday_bit = 1 << (day_type % 7)
            holiday = day_type >= 7
            base = (pat * DAY_TYPES + day_type) * DAY_S
            prev = None
            for a, b in zip(cuts[:-1], cuts[1:]):
                slot = -1
                if holiday:
                    slot = next((s for s, (d, f, to) in enumerate(shape) if d & HOLIDAY_BIT and f <= a and b <= to), -1)
                if slot < 0:
                    slot = next((s for s, (d, f, to) in enumerate(shape) if d & weekday_bit and f <= a and b <= to), -1)
                if prev is not None and slots[-1] == slot:
                    ends[-1] = b
                else:
                    keys.append(base + a)
                    ends.append(b)
                    slots.append(slot)
                prev = slot
    return (np.array(keys, dtype=np.int64), np.array(ends, dtype=np.int64), np.array(slots, dtype=np.int64))


def band_coverage_gaps(tariff: Tariff) -> list[ConfigError]:
    """Warnings for ``check-config``: (plan, origin, prefix) row sets that leave some weekday time unpriced.

    A call at an uncovered time is stored unrated ("no band"); usually that is a forgotten row.
    Holiday rows are not needed for coverage (the weekday rows apply on holidays without them).
    """
    idx = lookup_index(tariff)
    warnings: list[ConfigError] = []
    gaps_by_pattern = idx.weekday_gaps()
    for e in range(len(idx.e_pattern)):
        gaps = gaps_by_pattern.get(int(idx.e_pattern[e]))
        if not gaps:
            continue
        rows = idx.slot_rows[idx.e_rows_start[e]: idx.e_rows_start[e] + idx.e_rows_count[e]]
        first = int(rows.min())
        until = "open" if idx.e_to[e] >= OPEN_END else _iso(int(idx.e_to[e]))
        text = "; ".join(gaps[:4]) + (f" and {len(gaps) - 4} more" if len(gaps) > 4 else "")
        warnings.append(ConfigError(
            f"plan '{tariff.plan[first]}', origin '{tariff.origin[first]}', prefix '{tariff.prefix[first]}' "
            f"({_iso(int(idx.e_from[e]))} to {until}): no band covers {text}",
            file=str(tariff.path), line=int(tariff.line[first]), field="days",
            expected="bands covering all 7 days × 00:00-24:00"))
    return warnings


def _iso(days: int) -> str:
    return date.fromordinal(EPOCH.toordinal() + days).isoformat()
