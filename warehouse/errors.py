"""One exception tree for callcost.

    CallcostError
    ├── ConfigError        a config, tariff or directory file is wrong: names file, line/key, field
    ├── ParseError         a vendor record cannot be read: names source, line/offset, field
    ├── RatingError        the rating engine was handed something it cannot price as a whole batch
    └── StorageError       the lake or the SQL database refused a write

Every error carries *where* (file, line, field) and *what is expected*, so a user can fix the input
without reading our code.
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
