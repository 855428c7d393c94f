"""The canonical call (SPEC §6) as Arrow schemas, owned here and nowhere else.

Two stages of one record:

* ``PARSED_SCHEMA`` — what a PBX connector hands over: the vendor record read into canonical names,
  numbers still *as dialled*, no pricing.  Connectors fill what their format carries and leave the
  rest null.
* ``calls_schema(scale)`` — the stored, rated call: the parsed columns plus classification
  (direction, call_type, category, E.164 numbers), attribution (directory) and pricing.  Money is
  ``decimal128(18, scale)`` where *scale* is the enterprise currency's minor unit, so no float ever
  touches a cost.
"""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("s", tz="UTC")

#: Columns a connector produces, in order.  ``call_id`` must be stable for the same source record.
PARSED_FIELDS: list[pa.Field] = [
    pa.field("call_id", pa.string(), nullable=False),
    pa.field("pbx", pa.string(), nullable=False),
    pa.field("site", pa.string()),  # null: the PBX's site
    pa.field("source_format", pa.string(), nullable=False),
    pa.field("start_utc", TS, nullable=False),
    pa.field("answer_utc", TS),  # null: unanswered, or the format does not say (then derived)
    pa.field("end_utc", TS),
    pa.field("duration_s", pa.int32(), nullable=False),  # talk seconds; 0 = unanswered
    pa.field("ring_s", pa.int32()),
    pa.field("calling_number", pa.string()),
    pa.field("called_number", pa.string()),  # as dialled
    pa.field("original_called_number", pa.string()),
    pa.field("extension", pa.string()),  # the party billed, when the format says
    pa.field("direction", pa.string()),  # inbound | outbound | internal, when the format says
    pa.field("trunk", pa.string()),  # trunk / gateway / device name the call left or entered by
    pa.field("account_code", pa.string()),
    pa.field("disposition", pa.string()),  # answered | no_answer | busy | failed
    pa.field("cause_code", pa.string()),
    pa.field("chain_id", pa.string()),  # groups legs of one transferred/conferenced call
    pa.field("raw_ref", pa.string()),  # where the raw bytes are: file + line or offset
    # Chain linkage (issue 17), vendor-neutral; a connector fills what its format carries.  A connector's
    # ``chain_id`` is its own grouping key (CUCM GlobalCallID, IP Office Call ID, Asterisk linkedid); the
    # chain engine keeps it as ``call_group`` and replaces ``chain_id`` by the conversation's id.
    pa.field("call_group", pa.string()),  # the vendor's key of the legs it groups itself
    pa.field("leg_id", pa.string()),  # this leg's own id (CUCM origLegCallIdentifier, Asterisk uniqueid, FS uuid)
    pa.field("peer_leg_id", pa.string()),  # the other side's leg id (CUCM destLegIdentifier, FS bleg_uuid)
    pa.field("trunk_leg_id", pa.string()),  # of leg_id/peer_leg_id, the one on the trunk side: one carrier call
    pa.field("leg_feature", pa.string()),  # the feature that made this leg: a leg_role (transferred, forwarded…)
    pa.field("split_feature", pa.string()),  # the feature that ended it: transfer | conference | park | …
]
PARSED_SCHEMA = pa.schema(PARSED_FIELDS)

#: Columns the classifier and the rating engine add.
CLASSIFIED_FIELDS: list[pa.Field] = [
    pa.field("connected_number_e164", pa.string()),  # the far end, E.164 with '+'
    pa.field("call_type", pa.string()),  # internal|onnet|outbound|inbound|tollfree_inbound|emergency|tandem
    pa.field("category", pa.string()),  # internal|local|national|mobile|international|tollfree|premium|emergency
    pa.field("dest_country", pa.string()),  # ISO 3166 alpha-2 of the far end
    pa.field("dest_site", pa.string()),  # internal/on-net: the site called
    pa.field("trunk_site", pa.string()),  # where the call met the PSTN (TEHO: a remote site)
    pa.field("user", pa.string()),
    pa.field("department", pa.string()),
    pa.field("cost_center", pa.string()),
]


#: Columns the chain engine adds (``analytics.rating.chains``).
CHAIN_FIELDS: list[pa.Field] = [
    pa.field("leg_role", pa.string()),  # original|consultation|transferred|forwarded|conference|barge|park|pickup|redirected
    pa.field("carrier_call_id", pa.string()),  # legs priced together as one carrier call share this id
]

#: The roles a leg can have in its chain (``leg_role``).
LEG_ROLES = ("original", "consultation", "transferred", "forwarded", "conference", "barge", "park", "pickup",
             "redirected")


def rated_fields(scale: int) -> list[pa.Field]:
    """Pricing columns; money at the currency's minor-unit *scale*."""
    money = pa.decimal128(18, scale)
    return [
        pa.field("rating_status", pa.string(), nullable=False),  # rated | unrated
        pa.field("unrated_reason", pa.string()),
        pa.field("actual_cost", money),
        pa.field("reference_cost", money),
        pa.field("savings", money),
        pa.field("currency", pa.string()),
        pa.field("carrier", pa.string()),
        pa.field("plan", pa.string()),
        pa.field("prefix", pa.string()),
        pa.field("band", pa.string()),
        pa.field("tariff_version", pa.string()),
        pa.field("billable_s", pa.int32()),
        pa.field("ref_plan", pa.string()),
        pa.field("ref_prefix", pa.string()),
        pa.field("ref_band", pa.string()),
        pa.field("ref_tariff_version", pa.string()),
        pa.field("rated_at", TS),
    ]


def calls_schema(scale: int) -> pa.Schema:
    """The lake's ``calls`` dataset and the SQL ``calls`` table, for a currency of *scale* decimals."""
    return pa.schema(PARSED_FIELDS + CLASSIFIED_FIELDS + CHAIN_FIELDS + rated_fields(scale))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder/cast *table* to *schema*, adding absent columns as nulls.

    Connectors build only the columns their format carries; this fills the rest so every stage
    downstream sees one shape.
    """
    n = table.num_rows
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if col.type != f.type:
                col = col.cast(f.type)
            cols.append(col)
        else:
            cols.append(pa.nulls(n, f.type))
    return pa.Table.from_arrays(cols, schema=schema)
