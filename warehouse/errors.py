"""One exception tree for callcost: every error it raises on purpose, and where each is defined.

    CallcostError                        warehouse.errors               base of every error callcost raises on purpose
    ├── LocatedError                     warehouse.errors               file:line: field: message (expected …)
    │   ├── ConfigError                  warehouse.errors               a config, tariff or directory file is wrong
    │   └── ParseError                   warehouse.errors               a vendor record cannot be read (quarantined)
    ├── ConfigErrors                     warehouse.errors               every ConfigError of one validation pass
    ├── RatingError                      warehouse.errors               the engine cannot price a batch at all
    ├── StorageError                     warehouse.errors               the lake or the SQL database refused a write
    ├── BackupError                      warehouse.backup               cannot proceed, or a file fails its manifest
    ├── ClusterError                     warehouse.cluster              a cluster address that cannot be used
    ├── MoneyFormatError (+ValueError)   warehouse.money                not a plain decimal, or too many decimals
    ├── RawDumpError (+ValueError)       collector.rawdump              not a raw-dump frame (file and byte offset)
    ├── WireError (+ValueError)          collector.wire                 not a remote batch (the centre answers 400)
    ├── ForwardError                     collector.remote.forwarder     the centre did not acknowledge a batch
    ├── PeriodError (+ValueError)        analytics.calls                a period or date that cannot be read
    ├── FilterValueError (+ValueError)   analytics.selection            a filter value nothing knows (site='NCY')
    ├── ExportError (+ValueError)        analytics.export_formats       format, column, no calls, too big
    ├── RerateError (+ValueError)        analytics.rerate               a date range that cannot be re-rated
    ├── UnknownCallError (+LookupError)  analytics.explain_call         no stored call has that id
    ├── ReportError (+ValueError)        analytics.reporting.model      an unknown report, parameter or format
    ├── DeliveryError                    reports.delivery               the SMTP server did not take a message
    ├── UserError                        warehouse.users                a user, role, password, token or scope not usable
    ├── NoUsersError                     dashboards.auth.serving        serving beyond loopback while no user exists
    ├── Unauthorized                     dashboards.auth                no valid token or session: HTTP 401
    ├── Forbidden                        dashboards.auth                outside the user's scope: HTTP 403
    ├── BadParameter (+ValueError)       dashboards.api.params          an API parameter it cannot use: HTTP 400
    ├── UnknownReport (+LookupError)     dashboards.api.reports         no report type of that name: HTTP 404
    └── UsageError                       callcost.cli_common            a command-line value a verb cannot use

Every error carries *where* (file, line, field) and *what is expected*, so a user can fix the input
without reading our code.  Names are unique across the code base, so a name in a log is one class.

Why some errors are also a ``ValueError`` or ``LookupError`` (``+``): they are raised by functions an
analyst calls from a notebook with a bad argument value (a period, a filter, a call id), where the
standard exception is what Python code expects to catch; the callcost base is what the CLI catches.

The CLI (``callcost/cli.py``) turns these into messages in one place: each ``CallcostError`` prints as
``error: <message>`` (each error of a ``ConfigErrors`` on its own line) and exits 1; an ``OSError``
(a file or port the user named) exits 1 naming the file; anything else is a bug in callcost and exits 3
with one line and a hint to rerun with ``--debug`` for the traceback.

Signals, not errors: control flow inside one module of the collector, caught where they are raised,
never shown to a user.

    Closed                               collector.channel              a channel was closed and is empty
    SlowPathNeeded                       collector.connectors.csvtable  the fast read cannot vouch for line numbers
    _LineNumbersUnknown                  collector.connectors.csvtable  take the row-by-row path (read_strings)
    _Stopped                             collector.pipeline             another stage failed: stop quietly
"""

from __future__ import annotations


def first_line(exc: BaseException, limit: int = 300, *, with_type: bool = False) -> str:
    """An exception as one short line for logs and status (drivers' messages run to many lines)."""
    text = f"{type(exc).__name__}: {exc}" if with_type else str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:limit]


class CallcostError(Exception):
    """Base of every error callcost raises on purpose."""


class LocatedError(CallcostError):
    """An error about a place in a file: ``file:line: field: message (expected ...)``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | str | None = None,
        field: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ":".join(str(p) for p in (self.file, self.line) if p not in (None, ""))
        parts = [where] if where else []
        if self.field:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        text = ": ".join(parts)
        if self.expected:
            text += f" (expected {self.expected})"
        return text


class ConfigError(LocatedError):
    """The enterprise config, a tariff CSV or the directory is invalid."""


class ConfigErrors(CallcostError):
    """Several config errors found in one validation pass (``check-config`` reports them all)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class ParseError(LocatedError):
    """A vendor CDR record cannot be parsed; the record is quarantined, never dropped."""


class RatingError(CallcostError):
    """The rating engine cannot work on the batch at all (not: one call cannot be priced)."""


class StorageError(CallcostError):
    """The lake or the SQL database refused a write."""
