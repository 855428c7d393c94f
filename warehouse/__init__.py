"""The storage and pricing core: enterprise config, the canonical call, rating, the lake and the SQL DB.

Everything above (collector, analytics, reports, dashboards) imports from here; this package imports
from none of them.
"""
