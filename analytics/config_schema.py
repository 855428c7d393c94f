"""Chargeback's part of the declared config schema (:mod:`warehouse.config_schema`), an entry point.

The config's ``[chargeback]`` table, and the tables of the rules file it names (document
``chargeback``), which :mod:`analytics.chargeback_rules` validates against these declarations.
"""

from __future__ import annotations

from warehouse.config_schema import Key, Table

_S = "string"
_D = "decimal string"


def chargeback_tables() -> list[Table]:
    """``[chargeback]`` of the config; ``[defaults]``, ``[[department]]``, ``[[extension]]``, ``[[trunk_charge]]``
    of the rules file."""
    inherited = (
        Key("markup_pct", _D, "Markup in percent on usage + trunk share, \"12.5\"."),
        Key("surcharge_per_call", _D, "Amount per answered, rated call, \"0.02\"."),
        Key("surcharge_per_minute", _D, "Amount per talk minute, \"0.004\"."),
        Key("fixed_per_extension", _D, "Amount once per extension per month."),
        Key("client", _S, "The (outsourced) client billed for this subtree."),
    )
    owner = "analytics.chargeback_rules"
    return [
        Table("chargeback", "Chargeback rules and fixed trunk charges (docs/billing.md).", (
            Key("rules", _S, "Path of the chargeback rules file."),
        ), owner=owner),
        Table("defaults", "Rules of every department unless it or an ancestor says otherwise.", inherited,
              document="chargeback", owner=owner),
        Table("department", "One department's rules; the keys it does not set come from its nearest ancestor.", (
            Key("name", _S, "Department name as in the directory (Parent/Child paths nest).", required=True),
            Key("parent", _S, "Parent department.", default_doc="the path prefix, else none"),
            *inherited,
            Key("fixed_monthly", _D, "Amount once per month, spread over the subtree by talk time (not inherited)."),
            Key("description", _S, "Free text."),
        ), array=True, document="chargeback", owner=owner),
        Table("extension", "A fixed monthly charge on one extension (handset rental, a licence).", (
            Key("extension", "any", "Extension number.", required=True),
            Key("site", _S, "Site id, when the number exists at several sites."),
            Key("fixed_monthly", _D, "Amount per month.", required=True),
            Key("description", _S, "Free text on the statement."),
        ), array=True, document="chargeback", owner=owner),
        Table("trunk_charge", "A fixed monthly trunk charge, spread pro rata by talk time over the calls that used it.", (
            Key("name", _S, "Name on the statement.", required=True),
            Key("match", _S, "Glob on the calls' trunk column.", required=True),
            Key("pbx", _S, "Only calls of this [[pbx]]."),
            Key("amount", _D, "Amount per month.", required=True),
        ), array=True, document="chargeback", owner=owner),
    ]
