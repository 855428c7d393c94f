"""Live sources of CDR bytes, one module per ``[[pbx]] source`` scheme, registered under ``callcost.transports``."""
