"""Read a delimited CDR file into an all-string Arrow table, keeping each row's line number.

Shared by the CSV-shaped connectors (CUCM flat files, canonical CSV).  The fast path is one
``pyarrow.csv`` read: no per-row Python for good files.  Rows with the wrong field count are handed to
an ``invalid_row_handler`` and quarantined with their 1-based line; the good rows around them are
kept.  Each row's physical line is recovered with a vectorised newline scan, so ``raw_ref`` and
quarantine entries point at the exact line a user opens in an editor.  Only when the fast path cannot
vouch for its line numbers (a quoted field spanning lines) or Arrow refuses the file does a slow
``csv``-module path run.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from collector.connectors.base import FileTally, Quarantined
from warehouse.errors import ParseError

_BOM = b"\xef\xbb\xbf"
_THREADED_FROM = 8 << 20  # bytes


@dataclass(slots=True)
class StringTable:
    """Rows of a delimited file as strings (empty cells are ``""``), with their physical line numbers."""

    table: pa.Table
    lines: np.ndarray  # int64, 1-based physical line of each row of ``table``
    quarantined: list[Quarantined] = field(default_factory=list)
    raw: Lines | None = None  # the (normalised) file, to quote the bytes of a line later

    @property
    def records_seen(self) -> int:
        return self.table.num_rows + len(self.quarantined)


class Lines:
    """Byte offsets of every physical line of a file (a vectorised newline scan, no Python loop).

    The scan runs over blocks of ``_SCAN_BLOCK`` bytes: a byte mask the size of a 30 MB bundle would
    be fresh memory faulted in page by page, which costs more than the comparison itself.
    """

    def __init__(self, data: bytes) -> None:
        self.data = data
        buf = np.frombuffer(data, dtype=np.uint8)
        parts = [np.flatnonzero(buf[a:a + _SCAN_BLOCK] == 10) + a for a in range(0, len(buf), _SCAN_BLOCK)]
        nl = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        starts = np.concatenate(([0], nl + 1))
        ends = np.concatenate((nl, [len(data)]))
        if len(starts) > 1 and starts[-1] == len(data):  # a final newline does not open an empty last line
            starts, ends = starts[:-1], ends[:-1]
        # a CR before the LF belongs to the line ending, not the content
        cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13) if len(data) else np.zeros(len(ends), bool)
        self.starts = starts.astype(np.int64)
        self.ends = (ends - cr).astype(np.int64)
        self._all_nonempty = bool(len(data)) and bool(np.all(self.ends > self.starts))

    def __len__(self) -> int:
        return 0 if not self.data else len(self.starts)

    def text(self, line: int) -> bytes:
        """Raw bytes of 1-based *line*, without its line ending."""
        return self.data[self.starts[line - 1]:self.ends[line - 1]]

    def nonempty(self, first: int) -> np.ndarray:
        """1-based numbers of the non-empty lines from *first* on."""
        if self._all_nonempty:
            return np.arange(first, len(self) + 1, dtype=np.int64)
        idx = np.arange(first - 1, len(self))
        return idx[self.ends[idx] > self.starts[idx]] + 1


_SCAN_BLOCK = 1 << 18


def normalise_text(data: bytes) -> bytes:
    """UTF-8 without BOM.  Files re-saved by Excel on Windows arrive as cp1252; decode those leniently
    rather than quarantining a whole file for one accented user name."""
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        data = data.decode("cp1252", errors="replace").encode("utf-8")
    return data


def sniff_delimiter(header: bytes) -> str:
    """``,`` normally; ``;`` for a file re-saved by a European-locale spreadsheet."""
    return ";" if header.count(b";") > header.count(b",") else ","


def split_line(line: bytes, delimiter: str = ",") -> list[str]:
    """Fields of one CSV line (header and type lines are read this way); a ``ParseError`` when it is not CSV."""
    try:
        rows = list(csv.reader(io.StringIO(line.decode("utf-8"), newline=""), delimiter=delimiter))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ParseError(f"unreadable CSV line: {exc}") from exc
    return [f.strip() for f in rows[0]] if rows else []


class SlowPathNeeded(Exception):
    """The fast Arrow read cannot vouch for its line numbers (raised when the caller refuses the slow path)."""


def read_strings(
    data: bytes, source: str, names: list[str], first_line: int, *, lines: Lines | None = None,
    delimiter: str = ",", include: list[str] | None = None, slow_ok: bool = True, threads: bool | None = None,
) -> StringTable:
    """Parse the data lines of *data* from 1-based *first_line* on as columns *names*, all strings.

    *include* limits the columns converted (the field count of every row is still checked).  With
    ``slow_ok=False`` a file that needs the row-by-row path raises :class:`SlowPathNeeded` instead
    (a :class:`Bundle` of many files re-reads its files one by one rather than let one broken quote
    swallow the files after it).  *threads*: Arrow's multi-threaded reader (default: for large bodies);
    a caller that overlaps parsing with other work passes ``False`` — the threaded reader saves wall
    time only on an idle machine and costs more CPU in total.
    """
    lines = lines or Lines(data)
    if first_line > len(lines):
        return StringTable(_empty(names), np.zeros(0, np.int64), raw=lines)
    offset = int(lines.starts[first_line - 1])
    body = pa.py_buffer(data)[offset:] if offset else pa.py_buffer(data)
    expected = lines.nonempty(first_line)
    include = [n for n in include if n in names] if include is not None else None
    if threads is None:
        threads = body.size > _THREADED_FROM  # small files: threads cost more than they save
    try:
        table, invalid = _read_fast(body, names, delimiter, threads, include)
        if threads and invalid:  # row numbers are only reported by the single-threaded reader
            table, invalid = _read_fast(body, names, delimiter, False, include)
        quarantined = [_invalid_row(source, lines, expected, *row) for row in invalid]
    except (pa.ArrowInvalid, _LineNumbersUnknown) as exc:
        if not slow_ok:
            raise SlowPathNeeded(source) from exc
        return _read_slow(data, source, names, first_line, lines, delimiter, include)
    bad = np.array([q.line for q in quarantined], dtype=np.int64)
    good = np.setdiff1d(expected, bad, assume_unique=True) if len(bad) else expected
    if len(good) != table.num_rows:  # a quoted value spans lines: the scan cannot number rows
        if not slow_ok:
            raise SlowPathNeeded(source)
        return _read_slow(data, source, names, first_line, lines, delimiter, include)
    return StringTable(table, good, quarantined, lines)


class Bundle:
    """The data lines of many files of one layout joined into one buffer, so one Arrow read parses them all.

    Per-file parsing costs a few milliseconds of fixed overhead, which for a month of one-minute CUCM
    files is most of the time; one read of the joined bodies costs that once.  The bundle remembers where
    each file's body starts, so every row and every quarantined record still names *its* file, the line a
    user sees in an editor and the byte offset in that file.
    """

    def __init__(self, bodies: list[tuple[bytes | memoryview, str, int, int]]) -> None:
        """*bodies*: (body bytes, source, 1-based line of the body in its file, byte offset of the body)."""
        parts: list[bytes | memoryview] = []
        starts = np.zeros(len(bodies), np.int64)
        pos = 0
        for k, (body, _source, _line, _offset) in enumerate(bodies):
            starts[k] = pos
            if len(body):
                parts.append(body)
                pos += len(body)
                if body[-1:] != b"\n":  # a file without a final newline must not run into the next one
                    parts.append(b"\n")
                    pos += 1
        self.data = b"".join(parts)
        self.lines = Lines(self.data)
        self.sources = [b[1] for b in bodies]
        self.byte_start = starts
        self.first_line = np.searchsorted(self.lines.starts, starts, side="left").astype(np.int64) + 1
        self.local_first = np.array([b[2] for b in bodies], np.int64)
        self.local_offset = np.array([b[3] for b in bodies], np.int64)

    def __len__(self) -> int:
        return len(self.sources)

    def file_of(self, lines: np.ndarray) -> np.ndarray:
        """Index of the file each 1-based bundle line belongs to."""
        return np.searchsorted(self.first_line, lines, side="right") - 1

    def file_of_line(self, line: int) -> int:
        return int(np.searchsorted(self.first_line, line, side="right")) - 1

    def local_line(self, lines: np.ndarray, files: np.ndarray | None = None) -> np.ndarray:
        """The line number inside its own file of each bundle line."""
        files = self.file_of(lines) if files is None else files
        return lines - self.first_line[files] + self.local_first[files]

    def relocate(self, q: Quarantined) -> Quarantined:
        """A record quarantined while reading the bundle, renamed to its file, line and offset."""
        k = self.file_of_line(q.line)
        line = int(q.line - self.first_line[k] + self.local_first[k])
        offset = None if q.offset is None else int(q.offset - self.byte_start[k] + self.local_offset[k])
        return Quarantined(self.sources[k], line, offset, q.field, q.reason, q.raw)


def _invalid_row(source: str, lines: Lines, expected: np.ndarray, number: int | None, actual: int,
                 wanted: int, text: str) -> Quarantined:
    """Arrow numbers rows 1-based over the non-empty lines it was given; map that to the physical line."""
    if number is None or not 1 <= number <= len(expected):
        raise _LineNumbersUnknown
    line = int(expected[number - 1])
    raw = lines.text(line)
    if raw.decode("utf-8", errors="replace") != text.rstrip("\r"):
        raise _LineNumbersUnknown  # numbering disagrees with the scan (quoted newlines): take the slow path
    return Quarantined(source, line, int(lines.starts[line - 1]), None, f"{actual} fields, expected {wanted}", raw)


class _LineNumbersUnknown(Exception):
    pass


def _empty(names: list[str]) -> pa.Table:
    return pa.table({n: pa.array([], pa.string()) for n in names})


def _read_fast(body: pa.Buffer, names: list[str], delimiter: str, use_threads: bool,
               include: list[str] | None) -> tuple[pa.Table, list[tuple[int | None, int, int, str]]]:
    invalid: list[tuple[int | None, int, int, str]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid.append((row.number, row.actual_columns, row.expected_columns, row.text))
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(body),
        read_options=pacsv.ReadOptions(column_names=names, use_threads=use_threads, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=False,
            quoted_strings_can_be_null=False, include_columns=include,
        ),
    )
    return table, invalid


def _read_slow(data: bytes, source: str, names: list[str], first_line: int, lines: Lines,
               delimiter: str, include: list[str] | None = None) -> StringTable:
    """Row by row with the ``csv`` module: exact line numbers even with quoted newlines."""
    text = data.decode("utf-8", errors="replace")
    # lines end at LF only, as :class:`Lines` numbers them (``splitlines`` also breaks at CR, VT, FF, U+2028 …)
    pieces = text.split("\n")
    physical = ([p + "\n" for p in pieces[:-1]] + ([pieces[-1]] if pieces[-1] else []))[first_line - 1:]
    reader = csv.reader(physical, delimiter=delimiter)
    cols: list[list[str]] = [[] for _ in names]
    row_lines: list[int] = []
    bad: list[Quarantined] = []
    line_before = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = first_line + reader.line_num - 1
            bad.append(Quarantined(source, line, int(lines.starts[line - 1]), None, f"unreadable CSV: {exc}",
                                   lines.text(line)))
            line_before = reader.line_num
            continue
        line = first_line + line_before  # the physical line the record starts on
        line_before = reader.line_num
        if not row:  # a blank line, as Arrow skips it
            continue
        if len(row) != len(names):
            bad.append(Quarantined(source, line, int(lines.starts[line - 1]), None,
                                   f"{len(row)} fields, expected {len(names)}", lines.text(line)))
            continue
        for c, v in zip(cols, row):
            c.append(v)
        row_lines.append(line)
    table = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols) if include is None or n in include})
    return StringTable(table, np.array(row_lines, dtype=np.int64), bad, lines)
