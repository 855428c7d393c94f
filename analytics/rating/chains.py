"""Call chains (issue 17): stitch the legs of one conversation, and price each carrier call once.

A PBX writes several CDRs for one conversation when it is transferred, conferenced, forwarded, parked,
picked up or barged into.  Priced one by one, a PSTN call that 1001 transfers to 1002 would be two
carrier calls — two connect fees, two first increments — which no carrier invoice shows.  This module
runs after pricing (``RatingStage.rate_batch``) on a batch of rated legs and

1. **links** legs into chains: legs sharing a vendor group key (``call_group``: CUCM GlobalCallID, IP
   Office Call ID, Asterisk linkedid) or a leg identifier (``leg_id``/``peer_leg_id``/``trunk_leg_id``:
   a CUCM consultation call meets its final segment on the transfer target's leg; a FreeSWITCH A-leg its
   B-leg) are one conversation — the connected components of the leg ↔ key graph, found by
   ``scipy.sparse.csgraph`` in C, no Python loop over legs.  ``chain_id`` is the group key (else the
   ``call_id``) of the chain's earliest leg, so it does not depend on the order the legs came in;
2. gives each leg its ``leg_role`` (``warehouse.schema.LEG_ROLES``): the feature the connector read
   (``leg_feature``), else *consultation* for a leg split by a transfer/conference in another group
   than the chain's first leg, *park* for a leg split by a park, *original* for the first leg and the
   legs of the same call, *transferred* for a later leg of the same group (IP Office continuation
   records, Asterisk legs of one linkedid);
3. finds **carrier calls**: answered legs over a trunk that share the trunk-side leg id (CUCM), or, where
   the format has none, the same chain, trunk and far number, continuous in time (gaps ≤
   ``continuity_s``).  A carrier call of several legs is priced *once*, as one call from its first connect
   to its last disconnect (one connect fee, the increments applied once), with the attributes of its
   first answered leg; its cost, reference cost and billable seconds are split among its legs in
   proportion to their seconds, the remainders of the integer division going to the last holder, so
   the legs add up exactly to the carrier call and every existing sum counts it once.

Policy (``[chains]`` in the config): ``enabled`` (default true), ``continuity_s`` (default 60),
``window_hours`` (default 48: how long a chain stays open for late legs).  What this module does not do
yet: chains across batches (a leg arriving in a later batch) — see ``docs/chains.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from warehouse.config import Enterprise
from warehouse.config_schema import Key, Table
from warehouse.money import decimal128_to_minor, minor_to_decimal128
from warehouse.schema import LEG_ROLES, PARSED_SCHEMA

__all__ = ["ChainPolicy", "stitch", "link", "marked", "LEG_ROLES"]

#: Pricing columns a carrier call's legs take from the carrier call (beside the shared money and seconds).
CARRIED_COLUMNS = ("rating_status", "unrated_reason", "carrier", "plan", "prefix", "band", "tariff_version",
                   "ref_plan", "ref_prefix", "ref_band", "ref_tariff_version", "call_type", "category",
                   "dest_country", "currency")
_SPLIT_CONSULT = ("transfer", "conference")
#: What the steps after linking read of a chained leg (the carrier calls' first legs are taken whole).
_CHAIN_COLUMNS = ["call_id", "pbx", "start_utc", "answer_utc", "end_utc", "duration_s", "trunk", "leg_id",
                  "peer_leg_id", "trunk_leg_id", "connected_number_e164"]
_ROLE = {name: k for k, name in enumerate(LEG_ROLES)}


@dataclass(frozen=True)
class ChainPolicy:
    """How legs are stitched and carrier calls shared (``[chains]``)."""

    enabled: bool = True
    continuity_s: int = 60  # gap allowed between legs of one carrier call that share no trunk leg id
    window_hours: int = 48  # how long a chain stays open for late legs

    @classmethod
    def from_config(cls, ent: Enterprise) -> ChainPolicy:
        """The ``[chains]`` table of *ent*'s config (absent: the defaults); a wrong key or value is a
        ConfigError naming the file, line and key."""
        table: dict[str, Any] = ent.raw.get("chains", {}) if isinstance(ent.raw, dict) else {}
        if not isinstance(table, dict):
            raise ent.config_error("chains", None, None, "must be a table", expected="[chains]")
        known = {"enabled": bool, "continuity_s": int, "window_hours": int}
        for key, value in table.items():
            if key not in known:
                raise ent.config_error("chains", None, key, f"unknown key '{key}'",
                                       expected="one of " + ", ".join(known))
            kind = known[key]
            if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 0)):
                raise ent.config_error("chains", None, key, f"{value!r} is not a valid {key}",
                                       expected="true or false" if kind is bool else "a whole number ≥ 0")
        return cls(**table)


def chains_tables() -> list[Table]:
    """``[chains]``'s part of the declared config schema (entry point ``callcost.config_schema``)."""
    return [Table("chains", "Call chains: stitching a conversation's legs and pricing each carrier call once "
                  "(docs/chains.md).", (
        Key("enabled", "boolean", "false: every CDR is priced as a call of its own.", True),
        Key("continuity_s", "integer", "Gap allowed between legs of one carrier call that share no trunk leg id.",
            60),
        Key("window_hours", "integer", "How long a stored chain stays open for legs that arrive later.", 48),
    ), owner="analytics.rating.chains")]


# ---- 1. linking ------------------------------------------------------------------------------------------

def _np_str(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def link(legs: pa.Table, only: np.ndarray | None = None) -> np.ndarray:
    """Component label per leg: legs sharing a group key or a leg id (within one PBX) get the same label.

    *only* (a mask): the legs that can be linked at all; every other leg is a chain of its own.  A connector
    that marks every leg of a multi-leg scenario (``split_feature``/``leg_feature``, as CUCM does) lets the
    stage pass its marked legs: the keys of the plain calls — most of a batch — are then never encoded.

    Keys become integers first — digit strings (CUCM leg ids) by a cast, others by one dictionary encoding
    per key family — and a key held by one leg only is dropped before the graph is built: most legs are
    calls of their own, so the graph holds only the few legs that share a key, and every other leg is its
    own component.  A batch of several PBXs prefixes its keys with the PBX first (collector and import
    batches come from one PBX: the usual case skips that)."""
    n = legs.num_rows
    if only is not None:
        rows = np.flatnonzero(only)
        labels = np.arange(n)
        if len(rows) > 1:
            sub = legs.select(["pbx", "call_group", "leg_id", "peer_leg_id", "trunk_leg_id"]).take(pa.array(rows))
            labels[rows] = n + link(sub)
        return labels
    pbx = _np_str(legs["pbx"])
    several = pc.count_distinct(pbx).as_py() > 1
    rows, codes = [], []
    for family in (("call_group",), ("leg_id", "peer_leg_id", "trunk_leg_id")):
        cols = [_np_str(legs[name]) for name in family]
        present = [c for c in cols if c.null_count < n]
        if not present:
            continue
        values = pa.concat_arrays(present)
        if several:
            values = pc.binary_join_element_wise(pa.concat_arrays([pbx] * len(present)), values, "\x1f")
        valid = _np_bool(pc.is_valid(values))
        row = np.tile(np.arange(n), len(present))[valid]
        code = _integer_codes(values.filter(pa.array(valid)))
        shared = np.bincount(code)[code] > 1  # a key of one leg links nothing
        if shared.any():
            rows.append(row[shared])
            codes.append(code[shared])
    labels = np.arange(n)
    if not rows:
        return labels
    # the graph of the legs that share a key: those legs, then each family's shared keys, numbered densely
    row = np.concatenate(rows)
    leg_node, legs_in = _dense(row, n)
    key_node, offset = [], len(legs_in)
    for code in codes:
        dense, kept = _dense(code, int(code.max()) + 1)
        key_node.append(dense + offset)
        offset += len(kept)
    graph = coo_matrix((np.ones(len(row), np.int8), (leg_node, np.concatenate(key_node))),
                       shape=(offset, offset)).tocsr()
    _, component = connected_components(graph, directed=False)
    labels[legs_in] = n + component[:len(legs_in)]  # past every leg index: no clash with a leg of its own
    return labels


def _dense(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(0..k-1 for each of *values* in [0, size), the k distinct values in order) — by a mark table, no sort."""
    mark = np.zeros(size, bool)
    mark[values] = True
    number = np.cumsum(mark) - 1
    return number[values], np.flatnonzero(mark)


def marked(legs: pa.Table) -> np.ndarray:
    """Which legs a feature-marking connector (CUCM) marks as part of a multi-leg scenario: the ones a
    feature ended (``split_feature``: an original, a consultation, a parked call) and the ones a feature
    made (``leg_feature``: a final transferred segment, a conference leg, a pickup).  A plain call is
    neither, and can belong to no chain."""
    return _np_bool(pc.or_(pc.is_valid(legs["split_feature"]), pc.is_valid(legs["leg_feature"])))


def _integer_codes(values: pa.Array) -> np.ndarray:
    """Integer codes of *values*, equal strings equal codes, in a range about the size of *values*.

    Digit strings of up to 18 digits without a leading zero ("007" and "7" must stay two keys) are cast;
    when their range is no more than four times their count (CUCM leg ids and call ids are handed out in
    sequence) the offset from the smallest is the code — no hashing at all; otherwise they are factorised,
    and any other strings dictionary-encoded."""
    if not len(values):
        return np.zeros(0, np.int64)
    digits = pc.all(pc.and_(pc.ascii_is_decimal(values), pc.less_equal(pc.binary_length(values), 18))).as_py()
    if digits and not pc.any(pc.starts_with(values, "0")).as_py():
        ints = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
        lo, hi = int(ints.min()), int(ints.max())
        if hi - lo < 4 * len(ints) + 1024:
            return ints - lo
        return pd.factorize(ints)[0].astype(np.int64)
    return pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False).astype(np.int64)


# ---- the whole step ----------------------------------------------------------------------------------------

def stitch(rated: pa.Table, policy: ChainPolicy, reprice: Callable[[pa.Table], pa.Table], *,
           marks_features: bool = False) -> pa.Table:
    """*rated* legs (``calls_schema``) with ``chain_id``, ``leg_role``, ``carrier_call_id`` and the shared
    figures of every carrier call of several legs.  *reprice* rates parsed rows without chaining (the
    stage's own rating): a carrier call is priced by it as one call.  *marks_features*: the legs come from
    a connector that marks every leg of a multi-leg scenario (``chains_store.MARKS``), so only the marked
    legs are linked — the rule ``join_stored`` already follows for the stored legs it looks up."""
    n = rated.num_rows
    if n == 0:
        return rated
    # the vendor's key: ``call_group`` where the connector (or the stored leg) has it, else the ``chain_id`` a
    # connector or a canonical CSV gave; a stored leg's chain_id is its chain's, so re-rating links the same legs
    group = pc.coalesce(rated["call_group"], rated["chain_id"])
    only = marked(rated) if marks_features else None
    labels = link(rated.set_column(rated.schema.get_field_index("call_group"), "call_group", group), only)
    size = np.bincount(labels)
    multi = size[labels] > 1
    call_id = _np_str(rated["call_id"])
    group = _np_str(group)
    own_key = pc.coalesce(group, call_id)
    feature = _np_str(rated["leg_feature"])
    split = _np_str(rated["split_feature"])

    # singletons (most calls): their own key, the role their feature says, or original
    role = _codes_of(feature)
    role[role < 0] = _ROLE["original"]
    split_park = _np_bool(pc.equal(split, "park"))
    role[(role == _ROLE["original"]) & split_park] = _ROLE["park"]
    chain_id = own_key
    carrier_call = pa.nulls(n, pa.string())
    if not multi.any():
        return _finish(rated, chain_id, role, carrier_call)

    rows = np.flatnonzero(multi)
    sub = rated.select(_CHAIN_COLUMNS).take(pa.array(rows))
    lab = labels[rows]
    start = _seconds(sub["start_utc"])
    end = _seconds(sub["end_utc"], fallback=start)
    # order legs inside each chain: label, start, end, call_id (the tie-break makes it order-independent)
    order = _chain_order(lab, start, end, _np_str(sub["call_id"]))
    lab_o = lab[order]
    first = np.ones(len(order), bool)
    first[1:] = lab_o[1:] != lab_o[:-1]
    root_of_label = np.full(labels.max() + 1, -1, np.int64)
    root_of_label[lab_o[first]] = order[first]  # index into sub of each chain's root leg
    root = root_of_label[lab]

    sub_key = _np_str(own_key.take(pa.array(rows)))
    sub_group = _np_str(group.take(pa.array(rows)))
    chain_sub = sub_key.take(pa.array(root))
    chain_id = _scatter(chain_id, rows, chain_sub)

    # roles of chained legs
    r = role[rows]
    has_feature = _codes_of(_np_str(feature.take(pa.array(rows)))) >= 0
    root_group = sub_group.take(pa.array(root))
    same_group = _np_bool(pc.fill_null(pc.equal(sub_group, root_group), False))
    sub_split = _np_str(split.take(pa.array(rows)))
    consult = ~has_feature & ~same_group & _np_bool(pc.is_in(sub_split, pa.array(_SPLIT_CONSULT)))
    is_root = root == np.arange(len(rows))
    peer_of_root = _np_bool(pc.fill_null(pc.equal(_np_str(sub["leg_id"]),
                                                  _np_str(sub["peer_leg_id"]).take(pa.array(root))), False))
    later = ~has_feature & ~consult & ~is_root & ~peer_of_root & same_group & (r == _ROLE["original"])
    r[consult] = _ROLE["consultation"]
    r[later] = _ROLE["transferred"]
    role[rows] = r

    carrier_call = _carrier_calls(rated, sub, rows, lab, start, end, policy, reprice, call_id)
    if carrier_call is None:
        return _finish(rated, chain_id, role, pa.nulls(n, pa.string()))
    rated, carrier_call = carrier_call
    return _finish(rated, chain_id, role, carrier_call)


# ---- 3. carrier calls --------------------------------------------------------------------------------------

def _carrier_calls(rated: pa.Table, sub: pa.Table, rows: np.ndarray, lab: np.ndarray, start: np.ndarray,
                   end: np.ndarray, policy: ChainPolicy, reprice: Callable[[pa.Table], pa.Table],
                   call_id: pa.Array) -> tuple[pa.Table, pa.Array] | None:
    """Group the chained legs into carrier calls; price each of several legs once and share it."""
    dur = pc.fill_null(sub["duration_s"], 0).to_numpy(zero_copy_only=False).astype(np.int64)
    trunk = _np_str(sub["trunk"])
    over_trunk = (dur > 0) & _np_bool(pc.is_valid(trunk)) & _np_bool(pc.is_valid(sub["answer_utc"]))
    if over_trunk.sum() < 2:
        return None
    cand = np.flatnonzero(over_trunk)
    c = sub.take(pa.array(cand))
    tleg = _np_str(c["trunk_leg_id"])
    far = pc.fill_null(_np_str(c["connected_number_e164"]), "")
    by_leg = _np_bool(pc.is_valid(tleg))
    key = pc.if_else(pa.array(by_leg),
                     pc.binary_join_element_wise(_np_str(c["pbx"]), pc.fill_null(tleg, ""), "\x1fL"),
                     pc.binary_join_element_wise(pa.array(lab[cand].astype(str)), _np_str(c["trunk"]).cast(pa.string()),
                                                 far, "\x1fC"))
    kcode = pc.dictionary_encode(key).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    answer = _seconds(c["answer_utc"])
    talk_end = answer + dur[cand]
    s0 = start[cand]
    order = np.lexsort((talk_end, answer, kcode))
    k_o, a_o, e_o = kcode[order], answer[order], talk_end[order]
    new_key = np.ones(len(order), bool)
    new_key[1:] = k_o[1:] != k_o[:-1]
    # running max of the talk end within a key, then a new carrier call where the next leg starts after it
    run_end = _segmented_cummax(e_o, new_key)
    gap = np.zeros(len(order), np.int64)
    gap[1:] = np.minimum(a_o[1:], s0[order][1:]) - run_end[:-1]
    limit = np.where(by_leg[order], policy.window_hours * 3600, policy.continuity_s)
    breaks = new_key | (gap > limit)
    cc = np.cumsum(breaks) - 1  # carrier call number per ordered candidate
    counts = np.bincount(cc)
    shared = counts[cc] > 1
    if not shared.any():
        return None
    o = order[shared]
    cc_s = cc[shared]
    _, cc_s = np.unique(cc_s, return_inverse=True)
    m = int(cc_s.max()) + 1
    legs_in = cand[o]  # index into sub, ordered by carrier call then answer
    firsts = np.ones(len(o), bool)
    firsts[1:] = cc_s[1:] != cc_s[:-1]
    rep = legs_in[firsts]  # the first answered leg of each carrier call
    first_connect = answer[o][firsts]
    last_end = np.maximum.reduceat(talk_end[o], np.flatnonzero(firsts))
    last_disc = np.maximum.reduceat(np.maximum(end[cand][o], talk_end[o]), np.flatnonzero(firsts))

    # price each carrier call once, as one call
    parsed = rated.select(PARSED_SCHEMA.names).take(pa.array(rows[rep]))  # what reprice reads
    parsed = _set(parsed, "answer_utc", pa.array(first_connect, pa.int64()).cast(sub["answer_utc"].type))
    parsed = _set(parsed, "duration_s", pa.array(last_end - first_connect, pa.int64()).cast(pa.int32()))
    parsed = _set(parsed, "end_utc", pa.array(last_disc, pa.int64()).cast(sub["end_utc"].type))
    priced = reprice(parsed)

    # share cost, reference and billable seconds in proportion to each leg's seconds; remainder to the last
    weight = dur[legs_in]
    bounds = np.flatnonzero(firsts)
    total_w = np.add.reduceat(weight, bounds)[cc_s]
    last = np.ones(len(o), bool)
    last[:-1] = cc_s[:-1] != cc_s[1:]  # the last holder: the latest talk end (rows sorted by answer, then end)
    scale = rated.schema.field("actual_cost").type.scale
    out_rows = rows[legs_in]  # index into rated
    updates: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # minor units and validity per shared leg
    for name in ("actual_cost", "reference_cost"):
        value, valid = decimal128_to_minor(priced[name])
        updates[name] = (_share(value[cc_s], weight, total_w, last, cc_s, bounds), valid[cc_s])
    bill = pc.fill_null(priced["billable_s"], 0).to_numpy(zero_copy_only=False).astype(np.int64)
    bill_ok = _np_bool(pc.is_valid(priced["billable_s"]))
    shares_bill = _share(bill[cc_s], weight, total_w, last, cc_s, bounds)

    # write back with one gather per column from (the column, then the values of the legs that changed):
    # only those legs are converted, the other rows are copied as they are
    n = rated.num_rows
    k = len(out_rows)
    pick = np.arange(n)
    pick[out_rows] = n + np.arange(k)
    pick = pa.array(pick)
    (act, act_ok), (ref, ref_ok) = updates["actual_cost"], updates["reference_cost"]
    sav_ok = act_ok & ref_ok
    written = {"actual_cost": minor_to_decimal128(act, scale, act_ok),
               "reference_cost": minor_to_decimal128(ref, scale, ref_ok),
               "savings": minor_to_decimal128(np.where(sav_ok, ref - act, 0), scale, sav_ok),
               "billable_s": pa.array(shares_bill, pa.int64(), mask=~bill_ok[cc_s])}
    for name in CARRIED_COLUMNS:  # the pricing the carrier call got
        if name in priced.column_names:
            written[name] = _np_str(priced[name]).take(pa.array(cc_s))
    for name, value in written.items():
        base = _np_str(rated[name])
        rated = _set(rated, name, pa.concat_arrays([base, value.cast(base.type)]).take(pick))
    cc_id = _np_str(call_id).take(pa.array(rows[rep]))
    carrier_call = pa.concat_arrays([pa.nulls(n, pa.string()), cc_id.take(pa.array(cc_s)).cast(pa.string())]).take(pick)
    return rated, carrier_call


def _share(total: np.ndarray, weight: np.ndarray, total_w: np.ndarray, last: np.ndarray, group: np.ndarray,
           bounds: np.ndarray) -> np.ndarray:
    """Integer shares of *total* (per leg, its carrier call's) by *weight*; the last holder takes the rest,
    so the shares of a carrier call add up to its total exactly."""
    w = np.where(total_w > 0, weight, 0)
    tw = np.where(total_w > 0, total_w, 1)
    part = (total * w) // tw
    part[last] = 0
    given = np.add.reduceat(part, bounds)
    part[last] = total[last] - given[group[last]]
    return part


# ---- helpers -----------------------------------------------------------------------------------------------

def _finish(rated: pa.Table, chain_id: pa.Array, role: np.ndarray, carrier_call: pa.Array) -> pa.Table:
    rated = _set(rated, "chain_id", chain_id)
    rated = _set(rated, "leg_role", pa.array(LEG_ROLES, pa.string()).take(pa.array(role)))
    return _set(rated, "carrier_call_id", carrier_call)


def _set(table: pa.Table, name: str, col: pa.Array | pa.ChunkedArray) -> pa.Table:
    i = table.schema.get_field_index(name)
    want = table.schema.field(name).type if i >= 0 else col.type
    col = col if col.type == want else col.cast(want)
    return table.set_column(i, table.schema.field(name), col) if i >= 0 else table.append_column(name, col)


def _scatter(base: pa.Array | pa.ChunkedArray, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """*base* with *values* at *rows*: one gather from (base, then values), no mask pass."""
    base = _np_str(base)
    pick = np.arange(len(base))
    pick[rows] = len(base) + np.arange(len(rows))
    return pa.concat_arrays([base, _np_str(values).cast(base.type)]).take(pa.array(pick))


def _codes_of(feature: pa.Array) -> np.ndarray:
    idx = pc.index_in(feature, value_set=pa.array(LEG_ROLES, pa.string()))
    return pc.fill_null(idx, -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _np_bool(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(col, False).to_numpy(zero_copy_only=False), dtype=bool)


def _seconds(col: pa.Array | pa.ChunkedArray, fallback: np.ndarray | None = None) -> np.ndarray:
    ints = pc.cast(col, pa.int64())
    out = pc.fill_null(ints, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if fallback is not None:
        out = np.where(_np_bool(pc.is_valid(ints)), out, fallback)
    return out


def _chain_order(lab: np.ndarray, start: np.ndarray, end: np.ndarray, call_id: pa.Array) -> np.ndarray:
    """The legs ordered by chain, start, end, then call id: the call id breaks ties only, so it is ranked
    only for the legs that tie (few) — the order, and so each chain's root, never depends on arrival."""
    order = np.lexsort((end, start, lab))
    lo, so, eo = lab[order], start[order], end[order]
    tie = np.zeros(len(order), bool)
    tie[1:] = (lo[1:] == lo[:-1]) & (so[1:] == so[:-1]) & (eo[1:] == eo[:-1])
    if not tie.any():
        return order
    tie[:-1] |= tie[1:]  # both legs of each tying pair
    tied = order[tie]
    rank = np.zeros(len(order), np.int64)
    rank[tied] = _rank(call_id.take(pa.array(tied))) + 1
    return np.lexsort((rank, end, start, lab))


def _rank(strings: pa.Array) -> np.ndarray:
    """Rank of each string in sorted order (a stable, order-independent tie-break)."""
    idx = pc.sort_indices(strings).to_numpy(zero_copy_only=False)
    rank = np.empty(len(idx), np.int64)
    rank[idx] = np.arange(len(idx))
    return rank


def _segmented_cummax(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running maximum of *values* that restarts where *starts* is true (values shifted per segment so one
    global ``maximum.accumulate`` does it)."""
    if not len(values):
        return values
    seg = np.cumsum(starts) - 1
    lo = values.min()
    span = values.max() - lo + 1
    shifted = (values - lo) + seg * span
    return np.maximum.accumulate(shifted) - seg * span + lo


# ---- explaining one leg's share (callcost explain) ----------------------------------------------------------

@dataclass(frozen=True)
class CarrierCallShare:
    """How one leg's figures come from the carrier call it held (for ``callcost explain``)."""

    carrier_call_id: str
    legs: list[dict]  # the carrier call's legs, in holding order (answer, then talk end)
    first_connect: Any  # datetime
    seconds: int  # first connect → last talk end: what the carrier bills
    total_actual: Any  # Decimal, or None when unrated
    total_reference: Any
    total_billable: int

    def weight(self) -> int:
        return sum(int(leg["duration_s"] or 0) for leg in self.legs)


def carrier_call_of(chain: list[dict], call_id: str) -> CarrierCallShare | None:
    """The carrier call of leg *call_id* among *chain* (the rated legs of its chain, as dicts), if it shares one."""
    me = next(leg for leg in chain if leg["call_id"] == call_id)
    cc = me.get("carrier_call_id")
    if cc is None:
        return None
    legs = sorted((leg for leg in chain if leg.get("carrier_call_id") == cc),
                  key=lambda leg: (leg["answer_utc"], int(leg["duration_s"] or 0)))
    first = legs[0]["answer_utc"]
    last = max(leg["answer_utc"].timestamp() + int(leg["duration_s"] or 0) for leg in legs)
    money = [leg["actual_cost"] for leg in legs]
    refs = [leg["reference_cost"] for leg in legs]
    return CarrierCallShare(cc, legs, first, int(last - first.timestamp()),
                            sum(money) if None not in money else None, sum(refs) if None not in refs else None,
                            sum(int(leg["billable_s"] or 0) for leg in legs))


def describe_chain(chain: list[dict], call_id: str) -> list[str]:
    """Lines telling which chain leg *call_id* belongs to, its role, and how its share was computed."""
    legs = sorted(chain, key=lambda leg: (leg["start_utc"], leg["end_utc"] or leg["start_utc"], leg["call_id"]))
    me = next(leg for leg in legs if leg["call_id"] == call_id)
    lines = [f"call chain {me['chain_id']}: {len(legs)} leg(s); this leg is the {me['leg_role']}"]
    for leg in legs:
        mark = "→" if leg["call_id"] == call_id else " "
        lines.append(f"  {mark} {leg['leg_role']:<12} {leg['start_utc']:%H:%M:%S}Z {int(leg['duration_s'] or 0):>6} s "
                     f"ext {leg['extension'] or '-':<8} {leg['calling_number'] or '-'} → {leg['called_number'] or '-'}"
                     f"  actual {leg['actual_cost'] if leg['actual_cost'] is not None else '-'}  {leg['call_id']}")
    cc = carrier_call_of(legs, call_id)
    if cc is None:
        lines.append("  this leg held no carrier call with another leg: priced as a call of its own")
        return lines
    held = int(me["duration_s"] or 0)
    last = cc.legs[-1]["call_id"] == call_id
    lines.append(f"  carrier call {cc.carrier_call_id}: {len(cc.legs)} legs on one trunk-side leg, priced once from "
                 f"first connect {cc.first_connect:%H:%M:%S}Z for {cc.seconds} s (one connect fee, increments once): "
                 f"actual {cc.total_actual}, reference {cc.total_reference}, billable {cc.total_billable} s")
    share = "the rest (the last holder takes the cent remainders)" if last else \
        f"⌊total × {held} / {cc.weight()}⌋"
    lines.append(f"  this leg held it {held} of {cc.weight()} s: its share is {share} = actual {me['actual_cost']}, "
                 f"reference {me['reference_cost']}, billable {me['billable_s']} s")
    return lines
