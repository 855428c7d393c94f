"""A month of realistic, deterministic call traffic for an enterprise, as PBXs would report it.

Everything is derived from the enterprise configuration — sites, their clocks, holidays, dial plans
and number ranges, the trunks of each PBX — and from the directory (who sits at which extension), so
the same generator feeds the sample enterprise, tests and benchmarks of any config.

Realism that matters for rating and reports:

* busy hours in each site's *local* time (morning and afternoon peaks, a lunch dip, quiet nights),
  quiet weekends and the site's public holidays (``holidays`` package, as the rating engine uses);
* log-normal talk times (median 1–4 minutes by call type, long tail), ring times, ~27 % unanswered
  (``no_answer`` / ``busy``, duration 0, no answer time);
* the call mix of an office with a call centre: internal, on-net to other sites over SIP trunks,
  outbound local / national / mobile / international / toll-free / emergency, inbound to DIDs,
  inbound to the toll-free lines, and tail-end hop-off (TEHO) calls out through a remote gateway;
* numbers *as users dial them* at each site (access code, NANP ``1``, UK ``0``, Chinese local
  subscriber numbers…) drawn from blocks where every number is valid for ``phonenumbers``.

The work is vectorised: Python loops run over sites, scenarios and digit positions, never over calls
(10 M calls in well under a minute).  Numbers are assembled as byte matrices and handed to Arrow as
string buffers without a per-call Python object.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from collector.simulate.numbering_plans import (
    COUNTRIES, DIAL_RULES, DOMESTIC, EMERGENCY, FIXED, INTERNATIONAL_MIX, MOBILE, TOLLFREE, Block, DialRule,
)
from warehouse.config import Enterprise, Pbx, Site, Trunk
from warehouse.schema import PARSED_SCHEMA, TS

# --------------------------------------------------------------------------------------------------------
# The traffic model, as data
# --------------------------------------------------------------------------------------------------------

#: Scenario → (share of a site's calls, direction, median talk seconds, log-normal sigma, P(unanswered)).
#: Shares of scenarios a site cannot have (no toll-free DIDs, no TEHO route, no domestic mobile range)
#: are dropped and the rest renormalised.
SCENARIOS: dict[str, tuple[float, str, float, float, float]] = {
    "internal": (0.26, "internal", 75, 1.0, 0.30),
    "onnet": (0.07, "internal", 150, 1.0, 0.28),
    "local": (0.12, "outbound", 140, 1.0, 0.30),
    "national": (0.08, "outbound", 170, 1.0, 0.30),
    "mobile": (0.07, "outbound", 110, 1.0, 0.32),
    "international": (0.04, "outbound", 260, 1.1, 0.36),
    "tollfree": (0.012, "outbound", 200, 1.0, 0.25),
    "emergency": (0.0004, "outbound", 90, 0.6, 0.0),
    "teho": (0.015, "outbound", 220, 1.1, 0.32),
    "inbound": (0.28, "inbound", 170, 1.0, 0.22),
    "inbound_tollfree": (0.05, "inbound", 260, 0.9, 0.18),
}
SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)

#: Relative call volume per local hour 0..23: morning and afternoon peaks, lunch dip, quiet nights.
HOURLY = np.array([0.4, 0.25, 0.2, 0.2, 0.25, 0.5, 1.2, 3.0, 7.0, 10.5, 12.0, 11.0,
                   7.5, 8.5, 11.5, 12.0, 10.0, 6.5, 3.5, 2.2, 1.6, 1.2, 0.9, 0.6])
#: Relative volume of a Saturday, a Sunday and a public holiday against a working day.
DAY_WEIGHT = {"weekday": 1.0, "saturday": 0.16, "sunday": 0.09, "holiday": 0.12}
#: Share of mobile numbers in international traffic; share of unanswered calls that are busy.
INTL_MOBILE_SHARE = 0.35
BUSY_SHARE = 0.22
#: Share of inbound calls forwarded to a colleague (called ≠ original called); of inbound callers
#: calling from abroad.
FORWARDED_SHARE = 0.03
FOREIGN_CALLER_SHARE = 0.08
#: Call-centre extensions take this many times more calls than other extensions.
CALL_CENTRE_WEIGHT = 3.0
MAX_TALK_S = 4 * 3600
DISPOSITIONS = ("answered", "no_answer", "busy")
CAUSES = ("16", "19", "17")  # Q.850: normal clearing, no answer, user busy


# --------------------------------------------------------------------------------------------------------
# The enterprise seen by the generator (built once per call to generate_traffic, small)
# --------------------------------------------------------------------------------------------------------

class Vocab:
    """Distinct string templates ``const + <free random digits>``; columns are indices into it."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int]] = []
        self._index: dict[tuple[str, int], int] = {}

    def add(self, const: str, free: int = 0) -> int:
        key = (const, free)
        if key not in self._index:
            self._index[key] = len(self.items)
            self.items.append(key)
        return self._index[key]


@dataclass
class Route:
    """One way a call of a scenario can go: what is dialled, the truth behind it, the trunk it uses."""

    scenario: str
    weight: float
    dialled: int  # Vocab index (called number as dialled, or calling number for inbound)
    e164: int  # Vocab index of the far end in E.164, same free digits as ``dialled``
    trunk: int  # trunk vocabulary index, -1 = none


@dataclass
class SitePlan:
    site: Site
    pbx: Pbx
    extensions: list[str]
    ext_weight: np.ndarray
    call_centre: np.ndarray  # bool per extension
    routes: dict[str, list[Route]] = field(default_factory=dict)
    onnet_trunk: dict[str, int] = field(default_factory=dict)  # destination site → trunk index
    pstn_trunks: list[int] = field(default_factory=list)
    did_of_ext: list[int] = field(default_factory=list)  # Vocab index of each extension's DID (as reported)
    tollfree_dids: list[int] = field(default_factory=list)


@dataclass
class Traffic:
    """Generated calls (``PARSED_SCHEMA``) and, when asked for, the truth behind each one."""

    calls: pa.Table
    truth: pa.Table | None = None  # call_id, scenario, far_e164 (the external party, E.164) — same row order


def _nsn(block_e164: str, country: str) -> str:
    return block_e164[len(COUNTRIES[country].cc):]


def _dial(rule: DialRule, template: str, nsn: str, area: str) -> str:
    """Dialled digits (without access code) for a national number whose known head is *nsn*."""
    if "{sub}" in template:
        if not nsn.startswith(area):
            raise ValueError(f"'{nsn}' is not in area '{area}'")
        return template.format(sub=nsn[len(area):])
    return template.format(nsn=nsn)


def _area_code(site: Site) -> str:
    import phonenumbers

    parsed = phonenumbers.parse(site.main_number, None)
    nsn = phonenumbers.national_significant_number(parsed)
    return nsn[: phonenumbers.length_of_geographical_area_code(parsed)]


def concrete_trunk_name(trunk: Trunk, pbx_trunks: Sequence[Trunk], suffixes: Sequence[str]) -> str:
    """A device name that *trunk*'s glob matches and no other glob of the same PBX does."""
    for suffix in suffixes:
        name = trunk.match.replace("*", suffix, 1).replace("*", "").replace("?", "1")
        if trunk.matches(name) and sum(t.matches(name) for t in pbx_trunks) == 1:
            return name
    raise ValueError(f"no unambiguous device name for trunk glob '{trunk.match}' of PBX '{trunk.pbx}'")


def _extension_pool(ent: Enterprise, site: Site, month_start: date) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Extensions in use at *site* (from the directory, else sampled from its ranges) and their weights."""
    exts: list[str] = []
    centre: list[bool] = []
    if ent.directory_file is not None:
        from analytics.rating.directory import load_directory

        d = load_directory(ent.directory_file)
        d = d[(d["site"] == site.id) & (d["valid_to"] >= pd.Timestamp(month_start))]
        d = d.drop_duplicates("extension", keep="last").sort_values("extension")
        exts = d["extension"].tolist()
        centre = d["department"].str.lower().str.contains("support|call cent").tolist()
    if not exts:
        for r in site.extensions:
            lo, hi = int(r.first), int(r.last)
            step = max(1, (hi - lo + 1) // 200)
            exts += [str(x).zfill(len(r.first)) for x in range(lo, hi + 1, step)]
        centre = [False] * len(exts)
    if not exts:
        raise ValueError(f"site '{site.id}' has no extensions to generate calls for")
    c = np.array(centre, dtype=bool)
    return exts, np.where(c, CALL_CENTRE_WEIGHT, 1.0), c


def _plan_site(ent: Enterprise, site: Site, pbx: Pbx, vocab: Vocab, trunk_names: list[str],
               month_start: date) -> SitePlan:
    if site.country not in DIAL_RULES or site.country not in COUNTRIES:
        raise ValueError(f"site '{site.id}': no simulated dial plan for country '{site.country}' "
                         f"(have: {', '.join(sorted(DIAL_RULES))}; add one to collector/simulate/numbering_plans.py)")
    rule = DIAL_RULES[site.country]
    area = _area_code(site)
    access = site.access_code
    cc = COUNTRIES[site.country].cc
    exts, weight, centre = _extension_pool(ent, site, month_start)
    plan = SitePlan(site=site, pbx=pbx, extensions=exts, ext_weight=weight, call_centre=centre)
    pbx_trunks = ent.trunks_of(pbx.id)

    def trunk_index(t: Trunk, suffixes: Sequence[str]) -> int:
        name = concrete_trunk_name(t, pbx_trunks, suffixes)
        if name not in trunk_names:
            trunk_names.append(name)
        return trunk_names.index(name)

    local_pstn = [t for t in pbx_trunks if t.kind in ("pstn", "sip") and t.site == site.id]
    if not local_pstn:
        raise ValueError(f"PBX '{pbx.id}' has no PSTN trunk at its own site '{site.id}'")
    plan.pstn_trunks = [trunk_index(local_pstn[0], [s]) for s in ("GW1", "GW2")]
    plan.pstn_trunks = sorted(set(plan.pstn_trunks))
    for t in (t for t in pbx_trunks if t.kind == "onnet"):
        for other in ent.sites:
            if other != site.id and other not in plan.onnet_trunk:
                plan.onnet_trunk[other] = trunk_index(t, [other, f"{site.id}-{other}", "1"])
    teho = [t for t in pbx_trunks if t.kind in ("pstn", "sip") and t.site != site.id]

    def route(scenario: str, block: Block, weight: float, dial_template: str, trunks: list[int]) -> None:
        nsn = _nsn(block.e164, block.country)
        if block.country == site.country or COUNTRIES[block.country].cc == cc:
            digits = access + _dial(rule, dial_template, nsn, area)
        else:
            digits = access + rule.international + block.e164
        for t in trunks:
            plan.routes.setdefault(scenario, []).append(
                Route(scenario, weight / len(trunks), vocab.add(digits, block.free), vocab.add("+" + block.e164, block.free), t))

    local_prefixes = tuple(p.lstrip("+") for p in site.local_prefixes)
    teho_countries = {ent.sites[t.site].country for t in teho}
    for block in DOMESTIC.get(site.country, ()):
        if block.kind == FIXED:
            scenario = "local" if block.e164.startswith(local_prefixes) else "national"
            template = rule.local if scenario == "local" else rule.national
        elif block.kind == MOBILE:
            scenario, template = "mobile", rule.mobile
        else:
            scenario, template = "tollfree", rule.tollfree
        route(scenario, block, 1.0, template, plan.pstn_trunks)
    for country, w in INTERNATIONAL_MIX.get(site.country, {}).items():
        if country in teho_countries:
            continue  # those calls take the tail-end hop-off route
        fixed, mobile = COUNTRIES[country].blocks()
        route("international", fixed, w * (1 - INTL_MOBILE_SHARE), rule.national, plan.pstn_trunks)
        route("international", mobile, w * INTL_MOBILE_SHARE, rule.national, plan.pstn_trunks)
    for t in teho:
        idx = trunk_index(t, ["1", "01", "A"])
        far = ent.sites[t.site]
        for block in DOMESTIC.get(far.country, ()):
            if block.kind != TOLLFREE:
                route("teho", block, 1.0, "", [idx])
    for number in EMERGENCY.get(site.country, ()):
        for dialled in (number, access + number):
            plan.routes.setdefault("emergency", []).append(
                Route("emergency", 1.0, vocab.add(dialled), -1, plan.pstn_trunks[0]))

    # inbound: who calls (as the PSTN presents the caller) and which DID they reach
    domestic = [b for b in DOMESTIC.get(site.country, ()) if b.kind != TOLLFREE]
    for block in domestic:
        template = rule.presented_mobile if block.kind == MOBILE else rule.presented_fixed
        shown = _dial(rule, template, _nsn(block.e164, block.country), area)
        plan.routes.setdefault("inbound_tollfree", []).append(
            Route("inbound", 1.0 / len(domestic), vocab.add(shown, block.free), vocab.add("+" + block.e164, block.free), -1))
    plan.routes["inbound"] = [Route(r.scenario, r.weight * (1 - FOREIGN_CALLER_SHARE), r.dialled, r.e164, r.trunk)
                              for r in plan.routes["inbound_tollfree"]]
    mix = INTERNATIONAL_MIX.get(site.country, {})
    for country, w in mix.items():
        block = COUNTRIES[country].blocks()[0]
        if COUNTRIES[country].cc == cc:  # same numbering plan (NANP): presented like a domestic number
            shown = rule.presented_fixed.format(nsn=_nsn(block.e164, country))
        else:
            shown = rule.international + block.e164
        plan.routes["inbound"].append(Route("inbound", FOREIGN_CALLER_SHARE * w / sum(mix.values()),
                                            vocab.add(shown, block.free), vocab.add("+" + block.e164, block.free), -1))

    # DIDs: each extension's direct number inside the site's ranges, else the main number
    def reported(e164: str) -> str:
        return rule.presented_fixed.format(nsn=e164[1 + len(cc):])

    head = site.main_number[:-4]
    for ext in exts:
        did = head + ext[-4:].zfill(4)
        if not any(r.contains(did) for r in site.dids):
            did = site.main_number
        plan.did_of_ext.append(vocab.add(reported(did)))
    for r in site.dids:
        if _is_tollfree(r.first):
            lo, hi = int(r.first[1:]), int(r.last[1:])
            for n in range(lo, min(hi, lo + 999) + 1):
                plan.tollfree_dids.append(vocab.add(reported("+" + str(n))))
    return plan


def _is_tollfree(e164: str) -> bool:
    import phonenumbers

    return phonenumbers.number_type(phonenumbers.parse(e164, None)) == phonenumbers.PhoneNumberType.TOLL_FREE


def _scenario_shares(plan: SitePlan) -> np.ndarray:
    shares = []
    for name, (share, *_rest) in SCENARIOS.items():
        available = {
            "internal": len(plan.extensions) > 1,
            "onnet": bool(plan.onnet_trunk),
            "inbound": True,
            "inbound_tollfree": bool(plan.tollfree_dids),
        }.get(name, bool(plan.routes.get(name)))
        shares.append(share if available else 0.0)
    s = np.array(shares)
    return s / s.sum()


# --------------------------------------------------------------------------------------------------------
# Time: a site's local (day, hour) slots and their weights
# --------------------------------------------------------------------------------------------------------

def _month_bounds(month: str) -> tuple[date, int]:
    year, mon = (int(x) for x in month.split("-"))
    return date(year, mon, 1), calendar.monthrange(year, mon)[1]


def _slots(site: Site, first: date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """UTC epoch second of every local (day, hour) start, and each slot's relative call volume.

    Local hours that fall outside the month *in UTC* get no calls, so that the month's calls are the
    same set whether a report cuts the month in UTC or in local time (it costs a few night hours at
    the edges of the month).
    """
    zone = ZoneInfo(site.timezone)
    month_lo = int(datetime(first.year, first.month, 1, tzinfo=timezone.utc).timestamp())
    month_hi = month_lo + days * 86400
    cal = holidays.country_holidays(site.holiday_country, subdiv=site.holiday_subdiv, years=first.year)
    epoch = np.empty(days * 24, dtype=np.int64)
    weight = np.empty(days * 24)
    for d in range(days):
        day = first + timedelta(days=d)
        kind = "holiday" if day in cal else ("saturday" if day.weekday() == 5 else "sunday" if day.weekday() == 6 else "weekday")
        for h in range(24):
            local = datetime(day.year, day.month, day.day, h, tzinfo=zone)
            epoch[d * 24 + h] = int(local.astimezone(timezone.utc).timestamp())
            inside = month_lo <= epoch[d * 24 + h] and epoch[d * 24 + h] + 3600 <= month_hi
            weight[d * 24 + h] = DAY_WEIGHT[kind] * HOURLY[h] if inside else 0.0
    return epoch, weight / weight.sum()


# --------------------------------------------------------------------------------------------------------
# Strings without Python objects per call
# --------------------------------------------------------------------------------------------------------

def _vocab_matrix(vocab: Vocab) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    consts = [c.encode() for c, _ in vocab.items]
    width = max((len(c) for c in consts), default=1)
    mat = np.zeros((len(consts), width), dtype=np.uint8)
    for i, c in enumerate(consts):
        mat[i, : len(c)] = np.frombuffer(c, dtype=np.uint8)
    lens = np.array([len(c) for c in consts], dtype=np.int32)
    free = np.array([f for _, f in vocab.items], dtype=np.int32)
    return mat, lens, free


def _render(idx: np.ndarray, vocab: tuple[np.ndarray, np.ndarray, np.ndarray], digits: np.ndarray) -> pa.Array:
    """Strings ``const[idx] + digits[:free[idx]]`` (null where idx < 0) as an Arrow string array."""
    mat, lens, free = vocab
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    clen = np.where(valid, lens[safe], 0)
    nfree = np.where(valid, free[safe], 0)
    n, width = len(idx), mat.shape[1] + digits.shape[1]
    out = np.zeros((n, width), dtype=np.uint8)
    out[:, : mat.shape[1]] = mat[safe]
    rows = np.arange(n)
    for j in range(digits.shape[1]):
        sel = nfree > j
        out[rows[sel], clen[sel] + j] = digits[sel, j]
    total = clen + nfree
    data = out[np.arange(width) < total[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(total, out=offsets[1:])
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), validity,
                                       null_count=int((~valid).sum()))


def _take(strings: Sequence[str], idx: np.ndarray) -> pa.Array:
    """Dictionary decode: ``strings[idx]``, null where idx < 0."""
    return pc.take(pa.array(list(strings), type=pa.string()), pa.array(idx, mask=idx < 0, type=pa.int32()))


# --------------------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------------------

def generate_traffic(ent: Enterprise, *, month: str = "2026-10", calls: int = 100_000, seed: int = 7) -> pa.Table:
    """*calls* calls started during *month* at the enterprise's PBXs, as ``PARSED_SCHEMA`` rows sorted by start.

    Deterministic: the same config, month, count and seed give an identical table.
    """
    return simulate(ent, month=month, calls=calls, seed=seed).calls


def simulate(ent: Enterprise, *, month: str = "2026-10", calls: int = 100_000, seed: int = 7,
             with_truth: bool = False) -> Traffic:
    """``generate_traffic`` plus, optionally, the truth per call (scenario, far end in E.164) for tests."""
    if calls < 0:
        raise ValueError("calls must be >= 0")
    rng = np.random.default_rng(seed)
    first, days = _month_bounds(month)
    vocab = Vocab()
    trunk_names: list[str] = []
    plans: list[SitePlan] = []
    for site in ent.sites.values():
        pbx = next((p for p in ent.pbxs.values() if p.site == site.id), None)
        if pbx is not None:  # a site without a PBX makes no calls of its own
            plans.append(_plan_site(ent, site, pbx, vocab, trunk_names, first))
    if not plans:
        raise ValueError("the enterprise has no PBX: nothing generates calls")
    site_ids = [p.site.id for p in plans]
    ext_offset = np.cumsum([0] + [len(p.extensions) for p in plans])
    all_exts = [e for p in plans for e in p.extensions]
    ext_vocab = np.array([vocab.add(e) for e in all_exts], dtype=np.int32)

    # who calls: sites in proportion to their headcount
    headcount = np.array([p.ext_weight.sum() for p in plans])
    site_of = rng.choice(len(plans), size=calls, p=headcount / headcount.sum()).astype(np.int8)

    scenario = np.zeros(calls, dtype=np.int8)
    start = np.zeros(calls, dtype=np.int64)
    ext = np.zeros(calls, dtype=np.int32)  # global extension index of the billed party
    ext2 = np.full(calls, -1, dtype=np.int32)  # internal/on-net called extension
    calling = np.full(calls, -1, dtype=np.int32)  # Vocab indices
    called = np.full(calls, -1, dtype=np.int32)
    far = np.full(calls, -1, dtype=np.int32)
    trunk = np.full(calls, -1, dtype=np.int32)

    for s, plan in enumerate(plans):
        rows = np.flatnonzero(site_of == s)
        n = len(rows)
        epoch, w = _slots(plan.site, first, days)
        start[rows] = epoch[rng.choice(len(epoch), size=n, p=w)] + rng.integers(0, 3600, size=n)
        scen = rng.choice(len(SCENARIO_NAMES), size=n, p=_scenario_shares(plan)).astype(np.int8)
        scenario[rows] = scen
        lo = ext_offset[s]
        p_ext = plan.ext_weight / plan.ext_weight.sum()
        ext[rows] = lo + rng.choice(len(plan.extensions), size=n, p=p_ext)
        for k, name in enumerate(SCENARIO_NAMES):
            sel = rows[scen == k]
            if len(sel) == 0:
                continue
            m = len(sel)
            if name == "internal":
                other = lo + rng.choice(len(plan.extensions) - 1, size=m)
                other = np.where(other >= ext[sel], other + 1, other)  # never oneself
                ext2[sel] = other
            elif name == "onnet":
                dests = [d for d in range(len(plans)) if d != s and plans[d].site.id in plan.onnet_trunk]
                if not dests:
                    continue
                dw = headcount[dests] / headcount[dests].sum()
                d = np.array(dests)[rng.choice(len(dests), size=m, p=dw)]
                for dd in np.unique(d):
                    part = sel[d == dd]
                    pw = plans[dd].ext_weight / plans[dd].ext_weight.sum()
                    ext2[part] = ext_offset[dd] + rng.choice(len(plans[dd].extensions), size=len(part), p=pw)
                    trunk[part] = plan.onnet_trunk[plans[dd].site.id]
            elif name in ("inbound", "inbound_tollfree"):
                routes = plan.routes["inbound" if name == "inbound" else "inbound_tollfree"]
                rw = np.array([r.weight for r in routes])
                pick = rng.choice(len(routes), size=m, p=rw / rw.sum())
                calling[sel] = np.array([r.dialled for r in routes])[pick]
                far[sel] = np.array([r.e164 for r in routes])[pick]
                trunk[sel] = np.array(plan.pstn_trunks)[rng.integers(0, len(plan.pstn_trunks), size=m)]
                if name == "inbound_tollfree":
                    pool = np.flatnonzero(plan.call_centre) if plan.call_centre.any() else np.arange(len(plan.extensions))
                    ext[sel] = lo + pool[rng.integers(0, len(pool), size=m)]
                    called[sel] = np.array(plan.tollfree_dids)[rng.integers(0, len(plan.tollfree_dids), size=m)]
                else:
                    called[sel] = np.array(plan.did_of_ext)[ext[sel] - lo]
            else:  # outbound through a trunk
                routes = plan.routes[name]
                rw = np.array([r.weight for r in routes])
                pick = rng.choice(len(routes), size=m, p=rw / rw.sum())
                called[sel] = np.array([r.dialled for r in routes])[pick]
                far[sel] = np.array([r.e164 for r in routes])[pick]
                trunk[sel] = np.array([r.trunk for r in routes])[pick]

    kind = np.array([SCENARIOS[n][1] for n in SCENARIO_NAMES])[scenario]
    internal = (kind == "internal")
    inbound = (kind == "inbound")
    # internal and on-net: extension to extension; outbound: the extension calls out
    calling = np.where(inbound, calling, ext_vocab[ext])
    called = np.where(internal, ext_vocab[np.maximum(ext2, 0)], called)
    original = called.copy()
    # a few inbound calls are forwarded to a colleague's DID: original called number stays the first DID
    fwd = inbound & (scenario == SCENARIO_NAMES.index("inbound")) & (rng.random(calls) < FORWARDED_SHARE)
    fwd_idx = np.flatnonzero(fwd)
    if len(fwd_idx):
        s_of = site_of[fwd_idx]
        lo_f = ext_offset[s_of]
        size = np.diff(ext_offset)[s_of]
        colleague = lo_f + (ext[fwd_idx] - lo_f + 1 + rng.integers(0, np.maximum(size - 1, 1))) % size
        did_all = np.concatenate([np.array(p.did_of_ext, dtype=np.int32) for p in plans])
        ext[fwd_idx] = colleague
        called[fwd_idx] = did_all[colleague]

    # answer, talk and ring times
    unans_p = np.array([SCENARIOS[n][4] for n in SCENARIO_NAMES])[scenario]
    unanswered = rng.random(calls) < unans_p
    busy = unanswered & (rng.random(calls) < BUSY_SHARE)
    median = np.array([SCENARIOS[n][2] for n in SCENARIO_NAMES])[scenario]
    sigma = np.array([SCENARIOS[n][3] for n in SCENARIO_NAMES])[scenario]
    talk = np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(calls))), 1, MAX_TALK_S).astype(np.int32)
    talk[unanswered] = 0
    ring = np.where(unanswered, np.where(busy, rng.integers(0, 3, calls), rng.integers(15, 46, calls)),
                    np.rint(2 + rng.gamma(2.0, 3.5, calls))).astype(np.int32)
    ring[internal & ~unanswered] = np.minimum(ring[internal & ~unanswered], 12)
    disposition = np.where(unanswered, np.where(busy, 2, 1), 0).astype(np.int8)

    # random subscriber digits, shared by the dialled form and the E.164 truth of each number
    max_free = max((f for _, f in vocab.items), default=0)
    digits = rng.integers(48, 58, size=(calls, max_free), dtype=np.uint8)

    order = np.argsort(start, kind="stable")

    def o(a: np.ndarray) -> np.ndarray:
        return a[order]

    start_o = o(start)
    ring_o = o(ring)
    talk_o = o(talk)
    unans_o = o(unanswered)
    vm = _vocab_matrix(vocab)
    digits_o = digits[order]
    ids = pc.binary_join_element_wise(f"gen:{seed}:", pc.cast(pa.array(np.arange(calls)), pa.string()), "")
    answer = start_o + ring_o
    pbx_names = [p.pbx.id for p in plans]
    directions = ["internal", "outbound", "inbound"]
    dir_idx = np.select([kind == "internal", kind == "outbound"], [0, 1], 2).astype(np.int8)
    columns = {
        "call_id": ids,
        "pbx": _take(pbx_names, o(site_of).astype(np.int32)),
        "site": _take(site_ids, o(site_of).astype(np.int32)),
        "source_format": _take(["generated"], np.zeros(calls, dtype=np.int32)),
        "start_utc": pa.array(start_o, type=pa.int64()).cast(TS),
        "answer_utc": pa.array(answer, mask=unans_o, type=pa.int64()).cast(TS),
        "end_utc": pa.array(answer + talk_o, type=pa.int64()).cast(TS),
        "duration_s": pa.array(talk_o, type=pa.int32()),
        "ring_s": pa.array(ring_o, type=pa.int32()),
        "calling_number": _render(o(calling), vm, digits_o),
        "called_number": _render(o(called), vm, digits_o),
        "original_called_number": _render(o(original), vm, digits_o),
        "extension": _take(all_exts, o(ext)),
        "direction": _take(directions, o(dir_idx).astype(np.int32)),
        "trunk": _take(trunk_names, o(trunk)),
        "disposition": _take(DISPOSITIONS, o(disposition).astype(np.int32)),
        "cause_code": _take(CAUSES, o(disposition).astype(np.int32)),
    }
    n = calls
    arrays = [columns[f.name] if f.name in columns else pa.nulls(n, f.type) for f in PARSED_SCHEMA]
    table = pa.Table.from_arrays(arrays, schema=PARSED_SCHEMA)
    truth = None
    if with_truth:
        truth = pa.table({
            "call_id": ids,
            "scenario": _take(SCENARIO_NAMES, o(scenario).astype(np.int32)),
            "far_e164": _render(o(far), vm, digits_o),
        })
    return Traffic(calls=table, truth=truth)
