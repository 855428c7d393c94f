"""What travels between the collector's stages: pieces of streams and files, parsed, then rated.

Kept apart from the stages so transports, the pipeline and replay share one vocabulary without
importing one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from collector.connectors.base import Connector, Quarantined


@dataclass(slots=True)
class Part:
    """Whole records of one stream (or one whole file), ready to parse.

    ``[range_start, range_end)`` is the stream byte range this part accounts for (header lines taken
    into the preamble included), so consecutive parts of a stream are contiguous and a hole is a gap.
    ``blocks`` maps stream offsets to raw-dump locations: ``(stream_offset, dump_path, dump_offset)``.
    """

    pbx: str
    transport: str
    stream: str
    connector: Connector
    data: bytes
    preamble: bytes
    first_offset: int  # stream offset of data[0]
    range_start: int
    range_end: int
    sha256: str
    received_at: datetime
    blocks: tuple[tuple[int, str, int], ...] = ()
    final: bool = False
    is_file: bool = False  # parse alone, named *source* (file formats read their name, e.g. CUCM CMR)
    source: str = ""
    incomplete: bytes = b""  # bytes left unterminated when the session ended: quarantined
    sequence: int | None = None
    on_stored: Callable[[], None] | None = None

    @property
    def weight(self) -> int:
        return len(self.data) + len(self.incomplete) + 256

    def dump_location(self, stream_offset: int) -> tuple[str, int] | None:
        """The raw-dump file and offset holding the byte at *stream_offset*."""
        if not self.blocks:
            return None
        starts = [b[0] for b in self.blocks]
        k = max(int(np.searchsorted(starts, stream_offset, side="right")) - 1, 0)
        start, path, off = self.blocks[k]
        return path, off + stream_offset - start


@dataclass(slots=True)
class ParsedGroup:
    """Parts parsed together: their calls, which part each row came from, and per-part counts."""

    parts: list[Part]
    calls: pa.Table
    row_part: np.ndarray
    quarantined: list[Quarantined] = field(default_factory=list)
    received: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    parsed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    n_quarantined: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


@dataclass(slots=True)
class RatedBatch:
    groups: list[ParsedGroup]
    rated: pa.Table
    row_part: np.ndarray  # global part index per rated row (over all parts of all groups, in order)
    rate_s: float
