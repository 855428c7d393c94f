"""Component IDs of the dashboard, in one place.

Layouts, callbacks and tests refer to these names, so renaming a component is one edit and a typo is
an ``AttributeError`` at import rather than a callback that silently never fires.
"""

# app shell
URL = "url"
PAGE = "page-content"
NAV = "nav"

# the frame of every page
FILTER = "flt"  # pattern-matching type: {"type": FILTER, "key": "site"}
FILTER_BAR = "filters"
MESSAGES = "messages"
EMPTY = "empty-state"
DOWNLOADS = "downloads"
DOWNLOAD_XLSX = "download-xlsx"

# overview
CARDS = "overview-cards"
TREND_DAY = "overview-trend-day"
TREND_MONTH = "overview-trend-month"
SITE_CHART = "overview-site-chart"
CARRIER_CHART = "overview-carrier-chart"
MIX_CHART = "overview-mix-chart"
UNRATED_NOTE = "overview-unrated-note"

# sites (drill-down)
DRILL_CHART = "sites-drill-chart"
CRUMBS = "sites-crumbs"

# carriers
CARRIER_BARS = "carriers-chart"
WHATIF_CHART = "carriers-whatif-chart"

# destinations
DEST_CHART = "destinations-chart"
COUNTRY_CHART = "destinations-country-chart"
CLASS_CHART = "destinations-class-chart"

# extensions
TALKERS_CHART = "extensions-talkers-chart"
EXT_SEARCH = "extensions-search"

# billing
BILLING_CHART = "billing-chart"

# trunks
PEAK_CHART = "trunks-peak-chart"
HEATMAP = "trunks-heatmap"

# quality
UNRATED_CHART = "quality-unrated-chart"

# live
LIVE_TICK = "live-interval"
LIVE_BODY = "live-body"
