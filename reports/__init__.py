"""The report types (plugins under the ``callcost.reports`` entry-point group) and their delivery and schedule.

A report type only builds its data model (:class:`analytics.reporting.ReportData`); the model, the
registry, the renderers of every format, the Jinja environment and the number formatting live once in
:mod:`analytics.reporting`, shared with the dashboards.
"""
