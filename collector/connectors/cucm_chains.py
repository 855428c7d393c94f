"""What links the CDRs of one CUCM conversation, read column-wise for the chain engine.

CUCM writes one CDR per call *segment* (``shared/reference/cucm-cdr.md`` §7): a transfer gives the
original, the consultation and the final segment; a conference the setup call and one segment per party
into the bridge.  The chain engine (``analytics.rating.chains``) is vendor-neutral; this module turns
CUCM's own vocabulary into its canonical columns:

* ``leg_id`` / ``peer_leg_id`` — ``origLegCallIdentifier`` / ``destLegIdentifier``.  A leg keeps its id as
  long as it lives, so the consultation call (its own GlobalCallID) meets the final segment on the
  transfer target's leg, and the conference setup call meets the bridge segment of the added party.
* ``trunk_leg_id`` — of those two, the one on the trunk side: segments that share it are one carrier call.
* ``leg_feature`` — the feature that *made* the segment (``joinOnBehalfOf``, else
  ``lastRedirectRedirectOnBehalfOf``, else ``origCalledPartyRedirectOnBehalfOf``), as a ``leg_role``; a
  call a hunt pilot's member answered (``huntPilotDN``) and no other feature touched is ``redirected``.
* ``split_feature`` — the feature that *ended* it: a split (cause 393216) on behalf of transfer,
  conference, park …; a consultation call is a segment split by a transfer or conference whose
  GlobalCallID is not its chain's.
* ``extension`` — who a segment is billed to when the numbers alone would say otherwise: a call
  forwarded off-net is the forwarding extension's (``lastRedirectDn``), a conference bridge segment the
  controller's (``ConfControllerDn`` of ``comment``).  Null elsewhere: the classifier decides.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from collector.connectors.cucm_fields import SPLIT_CAUSE

#: CDR columns read for the chain linkage (beside the ones the call mapping reads).
CHAIN_COLUMNS = (
    "origCallTerminationOnBehalfOf", "destCallTerminationOnBehalfOf", "origCalledPartyRedirectOnBehalfOf",
    "lastRedirectRedirectOnBehalfOf", "lastRedirectRedirectReason", "joinOnBehalfOf", "lastRedirectDn", "comment",
    "huntPilotDN",
)

#: OnBehalfOf code (cucm-cdr.md §6.1) of the feature that joined or redirected a segment → its ``leg_role``.
JOIN_ROLES: dict[int, str] = {
    10: "transferred", 17: "transferred", 18: "transferred",  # transfer, SIP Refer, Replaces
    4: "conference", 6: "conference", 7: "conference",  # ad hoc / cBarge, Meet-Me, Conference Now
    5: "forwarded", 14: "forwarded", 19: "forwarded",  # call forward, iDivert, SIP 3xx
    3: "pickup", 26: "pickup", 16: "pickup",  # park retrieval (park, directed park), call pickup
    15: "barge",
    1: "redirected", 24: "redirected", 25: "redirected", 34: "redirected",  # CTI, mobility, AAR, queuing
}
#: Redirect reason 11 is a park *reversion*: the parked call rang back its parker, nobody picked it up.
PARK_REVERSION_REASON = 11
#: OnBehalfOf code of the feature that split a segment (cause 393216) → ``split_feature``.
SPLIT_FEATURES: dict[int, str] = {
    10: "transfer", 17: "transfer", 18: "transfer", 4: "conference", 3: "park", 26: "park", 16: "pickup",
    15: "barge", 14: "forward",
}
_CONTROLLER = r"ConfControllerDn=(?P<dn>[^;,\s]+)"
_NULL = pa.scalar(None, pa.string())


def _codes(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Integer codes of a column of digit strings; anything else (empty, garbage) reads 0 = unknown."""
    ok = pc.fill_null(pc.and_(pc.ascii_is_decimal(strings), pc.less_equal(pc.binary_length(strings), 9)), False)
    return np.asarray(pc.cast(pc.if_else(ok, strings, "0"), pa.int64()).to_numpy(zero_copy_only=False))


def _lookup(codes: np.ndarray, table: dict[int, str]) -> pa.Array:
    """``table[code]`` per row, null where the code is not in *table* (one take, no per-row Python)."""
    names = sorted(set(table.values()))
    lut = np.full(max(max(table), int(codes.max(initial=0))) + 1, -1, dtype=np.int64)
    for code, name in table.items():
        lut[code] = names.index(name)
    idx = lut[np.clip(codes, 0, len(lut) - 1)]
    idx[codes < 0] = -1
    return pa.array(names, pa.string()).take(pa.array(np.maximum(idx, 0), mask=idx < 0))


def chain_links(s: Callable[[str], pa.Array], trunk_code: np.ndarray) -> dict[str, pa.Array]:
    """The chain columns of a batch of CDRs.  *s* returns a trimmed string column ("" when absent);
    *trunk_code* is the connector's side code (1: the trunk is the destination, 2: the origin)."""
    orig_leg, dest_leg = s("origLegCallIdentifier"), s("destLegIdentifier")
    leg_id = pc.if_else(pc.is_in(orig_leg, pa.array(["", "0"])), _NULL, orig_leg)
    peer_leg_id = pc.if_else(pc.is_in(dest_leg, pa.array(["", "0"])), _NULL, dest_leg)
    trunk_leg_id = pc.if_else(pa.array(trunk_code == 1), peer_leg_id,
                              pc.if_else(pa.array(trunk_code == 2), leg_id, _NULL))

    join = _codes(s("joinOnBehalfOf"))
    last = _codes(s("lastRedirectRedirectOnBehalfOf"))
    first = _codes(s("origCalledPartyRedirectOnBehalfOf"))
    made_by = np.where(join != 0, join, np.where(last != 0, last, first))
    made_by[(made_by == 0) | (made_by == 12)] = -1  # 12 = a device: a plain call, no feature
    feature = _lookup(made_by, JOIN_ROLES)
    reverted = _codes(s("lastRedirectRedirectReason")) == PARK_REVERSION_REASON
    if reverted.any():
        feature = pc.if_else(pa.array(reverted), "park", feature)

    term_o, term_d = _codes(s("origCallTerminationOnBehalfOf")), _codes(s("destCallTerminationOnBehalfOf"))
    cause_o, cause_d = _codes(s("origCause_value")), _codes(s("destCause_value"))
    split_by = np.where(cause_o == SPLIT_CAUSE, term_o, np.where(cause_d == SPLIT_CAUSE, term_d, -1))
    # a conference setup call ends 4/4 with causes 0/0 (cucm-cdr.md §7.4): the same feature on both sides splits too
    both = (term_o == term_d) & np.isin(term_o, list(SPLIT_FEATURES))
    split_by = np.where(split_by > 0, split_by, np.where(both, term_o, -1))
    split = _lookup(split_by, SPLIT_FEATURES)
    # a hunt pilot's member answered (``huntPilotDN`` is filled only then, cucm-cdr.md §7): the hunt list
    # redirected the call to that member — unless another feature made or split the segment (a transfer to
    # a hunt pilot stays a transfer; the consultation call to a pilot stays a consultation)
    via_hunt = pc.and_(pc.not_equal(s("huntPilotDN"), ""), pc.and_(pc.is_null(feature), pc.is_null(split)))
    feature = pc.if_else(pc.fill_null(via_hunt, False), "redirected", feature)

    redirect_dn = s("lastRedirectDn")
    forwarded_out = pc.and_(pc.equal(feature, "forwarded"), pa.array(trunk_code == 1))
    controller = pc.struct_field(pc.extract_regex(s("comment"), _CONTROLLER), [0])
    extension = pc.if_else(pc.and_(pc.fill_null(forwarded_out, False), pc.not_equal(redirect_dn, "")), redirect_dn,
                           pc.if_else(pc.fill_null(pc.equal(feature, "conference"), False), controller, _NULL))
    return {"leg_id": leg_id, "peer_leg_id": peer_leg_id, "trunk_leg_id": trunk_leg_id, "leg_feature": feature,
            "split_feature": split, "extension": extension}
