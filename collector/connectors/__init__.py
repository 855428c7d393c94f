"""PBX connectors, one module per vendor format, registered under the ``callcost.connectors`` entry-point group."""

from collector.connectors.base import Connector, ParseResult, Quarantined, connector_for, registered_connectors

__all__ = ["Connector", "ParseResult", "Quarantined", "connector_for", "registered_connectors"]
