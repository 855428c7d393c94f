"""What travels between the collector's stages: pieces of streams and files, parsed, then rated.

Kept apart from the stages so transports, the pipeline and replay share one vocabulary without
importing one another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pyarrow as pa

from collector.connectors.base import Connector, Quarantined
from collector.rawdump import RawDumpWriter
from warehouse.database import PreloadedCalls


@dataclass(slots=True)
class Part:
    """Whole records of one stream (or one whole file), ready to parse.

    ``[range_start, range_end)`` is the stream byte range this part accounts for (header lines taken
    into the preamble included), so consecutive parts of a stream are contiguous and a hole is a gap.
    ``blocks`` maps stream offsets to raw-dump locations: ``(stream_offset, dump_path, dump_offset)``.

    A *spilled* part left its bytes in the raw dump (``data`` is empty, ``spilled`` is their length):
    during a burst the dump, not memory, is the buffer, and :meth:`restored` reads them back before
    parsing.  Only parts whose every byte went through *dump* (a live session's own writer) can spill.
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
    dump: RawDumpWriter | None = None  # the writer *blocks* point into, when this part may spill
    spilled: int = 0  # bytes of *data* left in the raw dump (data is then b"")

    @property
    def weight(self) -> int:
        """Memory held while queued: a spilled part holds none of its data."""
        return len(self.data) + len(self.incomplete) + (0 if self.spilled else 256)

    @property
    def size(self) -> int:
        """Work for the parser, spilled or not."""
        return len(self.data) + self.spilled + len(self.incomplete) + 256

    @property
    def can_spill(self) -> bool:
        return self.dump is not None and bool(self.data) and bool(self.blocks) and not self.is_file

    def spill(self) -> Part:
        """This part without its data bytes, which stay in the raw dump (see :meth:`restored`)."""
        return replace(self, data=b"", spilled=len(self.data))

    def restored(self) -> Part:
        """A spilled part with its data read back from the raw dump, piece by piece along *blocks*."""
        if not self.spilled:
            return self
        assert self.dump is not None
        pieces = []
        pos, end = self.first_offset, self.first_offset + self.spilled
        starts = [b[0] for b in self.blocks]
        k = max(int(np.searchsorted(starts, pos, side="right")) - 1, 0)
        while pos < end:
            start, path, off = self.blocks[k]
            stop = min(end, starts[k + 1]) if k + 1 < len(starts) else end
            pieces.append(self.dump.read(path, off + pos - start, stop - pos))
            pos, k = stop, k + 1
        return replace(self, data=b"".join(pieces), spilled=0)

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
    preloaded: PreloadedCalls | None = None  # the store's early share, done on the rating thread
    marks_features: bool = False  # every connector of the batch marks multi-leg scenarios (chains_store.MARKS)
