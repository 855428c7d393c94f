"""``callcost replay DUMP...``: feed raw-dump files through the same parse → rate → store path again.

Sessions are rebuilt from the frames (``O`` … ``D`` … ``C``) in write order, so records split across
reads, header lines and unterminated tails come out exactly as they did live; whole uploaded files
(``F``) are parsed as files.  Calls keep their stable ``call_id``, so replaying what is already stored
inserts nothing; ``raw_ref`` points into the replayed dump file.  A replay is accounted under its own
stream names (``replay:…``) so it never masks a gap in the live record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.connectors.base import connector_for
from collector.pipeline import Pipeline
from collector.rawdump import dump_files, read_frames, session_meta
from collector.service import pbx_context, pipeline_config
from collector.settings import settings_for
from collector.streams import Intake, StreamSession
from warehouse.config import Enterprise
from warehouse.errors import CallcostError
from analytics.rating.stage import RatingStage
from warehouse.store import Store


@dataclass
class ReplayReport:
    files: int = 0
    sessions: int = 0
    bytes: int = 0
    received: int = 0
    stored_new: int = 0


def replay(ent: Enterprise, paths: list[Path], *, store: Store | None = None) -> ReplayReport:
    store = store or Store(ent)
    pipeline = Pipeline(store, RatingStage(ent), pipeline_config(settings_for(ent))).start()
    report = ReplayReport()
    intakes: dict[str, Intake] = {}
    sessions: dict[str, StreamSession] = {}
    before = store.db.count_calls()

    def intake(pbx: str) -> Intake:
        if pbx not in ent.pbxs:
            raise CallcostError(f"raw dump names PBX '{pbx}', which is not in {ent.path}")
        if pbx not in intakes:
            intakes[pbx] = Intake(pipeline, pbx, connector_for(ent.pbxs[pbx].type, pbx_context(ent, pbx)), None)
        return intakes[pbx]

    try:
        for path in dump_files(paths):
            report.files += 1
            pbx_of_file = path.parent.parent.name
            for frame in read_frames(path):
                if frame.kind == "O":
                    meta = session_meta(frame)
                    s = StreamSession(intake(meta.get("pbx", pbx_of_file)), "replay", f"replay:{frame.session}", meta)
                    sessions[frame.session] = s
                    report.sessions += 1
                elif frame.kind == "D":
                    s = sessions.get(frame.session)
                    if s is None:  # the session began in an earlier file that was not named
                        s = sessions[frame.session] = StreamSession(intake(pbx_of_file), "replay",
                                                                    f"replay:{frame.session}", {})
                        report.sessions += 1
                    report.bytes += len(frame.payload)
                    s.feed_blocking(frame.payload, frame.ref)
                elif frame.kind == "C" and frame.session in sessions:
                    sessions.pop(frame.session).close_blocking(frame.payload.decode(errors="replace"))
                elif frame.kind == "F":
                    report.bytes += len(frame.payload)
                    it = intake(pbx_of_file)
                    pipeline.submit(it.file_part("replay", Path(f"{frame.ref.path}@{frame.ref.offset}"), frame.payload,
                                                 source=frame.session))
        for s in sessions.values():
            s.close_blocking("end of replayed dump")
    finally:
        pipeline.drain()
    report.received = sum(m.records_received for m in pipeline.metrics.values())
    report.stored_new = store.db.count_calls() - before
    return report
