"""Hand-worked billing cases shared by the billing and chargeback tests (figures worked out in the comments)."""

from __future__ import annotations

from pathlib import Path

from lakefactory import call, write_lake

RULES = """\
[defaults]
markup_pct = "0"

[[department]]
name = "Ops"
client = "Client A"
markup_pct = "10"
surcharge_per_minute = "0.01"
fixed_monthly = "10.00"

[[department]]
name = "Ops/EMEA"                 # a path: child of Ops, inherits markup, per-minute surcharge, client
surcharge_per_call = "0.05"
fixed_per_extension = "2.50"

[[department]]
name = "Sales"
markup_pct = "5"

[[extension]]
extension = "100"
site = "NYC"
fixed_monthly = "1.00"

[[trunk_charge]]
name = "GW rental"
match = "GW-*"
amount = "1.00"
"""


def _c(call_id, start, ext, dept, call_type, seconds, cost, trunk, *, cost_center="CC"):
    row = call(call_id, start, "NYC", "acme", dept, ext, call_type, "national", seconds, cost, cost)
    return row | {"trunk": trunk, "cost_center": cost_center if dept else None, "user": f"user {ext}" if dept else None}


#: October 2026; r1 is unrated, x1 unanswered, u1 has no directory entry.
CALLS = [
    _c("a1", "2026-10-02T10:00:00", "100", "Ops", "outbound", 60, "1.00", "GW-1"),
    _c("a2", "2026-10-03T10:00:00", "100", "Ops", "outbound", 120, "2.05", "GW-1"),
    _c("b1", "2026-10-04T10:00:00", "200", "Ops/EMEA", "outbound", 30, "0.10", "GW-2"),
    _c("r1", "2026-10-05T10:00:00", "200", "Ops/EMEA", "outbound", 45, None, "GW-2"),
    _c("c1", "2026-10-06T10:00:00", "300", "Sales", "outbound", 90, "0.33", "GW-1"),
    _c("x1", "2026-10-07T10:00:00", "300", "Sales", "inbound", 0, "0.00", None),
    _c("u1", "2026-10-08T10:00:00", "999", None, "outbound", 60, "0.50", "GW-1"),
    _c("n1", "2026-11-01T10:00:00", "100", "Ops", "outbound", 60, "9.99", "GW-1"),  # next month: not billed
]

# Trunk 1.00 over GW-* cells by talk seconds: 100/outbound 180 s, 200/outbound 75 s (unrated r1 used the
# trunk too), 300/outbound 90 s, 999/outbound 60 s; of 405 s: 44.44, 18.52, 22.22, 14.81 → floors 44+18+22+14
# = 98, the 2 cents left go to the largest remainders (.81 → 999, .52 → 200): 44, 19, 22, 15.
# Ext 100 (Ops): usage 3.05 + trunk 0.44 = 3.49, markup 10 % = 0.349 → 0.35; per minute 0.01 × 3 min = 0.03;
#   its own fixed 1.00; Ops' fixed 10.00 over Ops + Ops/EMEA lines by talk s 180:75 → 705.88/294.12 → 7.06/2.94.
# Ext 200 (Ops/EMEA): usage 0.10 + trunk 0.19 = 0.29, markup 10 % (inherited) = 0.029 → 0.03; per call 0.05 × 1
#   rated answered call; per minute 0.01 × 30 s = 0.005 → 0.01 (half up); seat fee 2.50; Ops share 2.94.
# Ext 300 (Sales): outbound 0.33 + 0.22 = 0.55, markup 5 % = 0.0275 → 0.03; inbound cell all zero.
# Unassigned (999): 0.50 + 0.15, no rules.
EXPECTED_LINES = {  # extension → (usage, trunk, markup, per call, per minute, fixed ext, fixed dept, total) in cents
    "100": (305, 44, 35, 0, 3, 100, 706, 1193),
    "200": (10, 19, 3, 5, 1, 250, 294, 582),
    "300": (33, 22, 3, 0, 0, 0, 0, 58),
    "999": (50, 15, 0, 0, 0, 0, 0, 65),
}
EXPECTED_TOTAL = 1898


def write_case(root: Path) -> tuple[Path, Path]:
    """The lake and the rules file of the hand-worked case under *root*."""
    write_lake(root / "lake", CALLS)
    rules = root / "chargeback.toml"
    rules.write_text(RULES, encoding="utf-8")
    return root / "lake", rules
