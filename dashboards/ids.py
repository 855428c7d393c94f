"""Component IDs of the dashboard, in one place.

Layouts, callbacks and tests refer to these names, so renaming a component is one edit and a typo is
an ``AttributeError`` at import rather than a callback that silently never fires.
"""

# app shell
URL = "url"
PAGE = "page-content"
NAV = "nav"

# overview page
MONTH = "overview-month"
CARDS = "overview-cards"
SITE_CHART = "overview-site-chart"
SITE_TABLE = "overview-site-table"
UNRATED_NOTE = "overview-unrated-note"
