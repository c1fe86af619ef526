"""The demo plant's room conditions (issue 17 item 1): the environment monitoring system's
record of every room over the plant's history — temperature, humidity, pressure differential
and particle counts, in spec — with one particle excursion in the assembly cleanroom
(:data:`EXCURSION_ROOM`) during its latest assembly run, written as a historian CSV file and
replayed through the signal pipeline (CSV adapter → raw store → detection → exception loop),
as ``tracegraph signals replay`` would: the loop raises the deviation and holds the batches in
the room during the excursion.

The assembly cleanroom is sampled every :data:`STEP_CLEANROOM` minutes, the other classified
rooms every :data:`STEP_CLASSIFIED` minutes, the rest every :data:`STEP_OTHER` minutes (about
40,000 samples over the demo plant's history).
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from graph.model import Direction
from ingest.signals.csv import replay_csv
from ingest.signals.model import TagMap
from ingest.signals.model import text_to_ms as _ms
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from ontology.environment import DEFAULTS, UNITS
from ontology.terms import C, P, R
from quality.notify import Notification
from tracegraph.runtime import Runtime

__all__ = ["EXCURSION_ROOM", "replay_environment"]

EXCURSION_ROOM = "RM-CR7A"
EXCURSION_PARAMETER = "PC05"
STEP_CLEANROOM = 5
STEP_CLASSIFIED = 15
STEP_OTHER = 60
_NOMINAL = {"TEMP": 21.0, "RH": 45.0, "DP": 15.0}
_MIN = 60_000


def _value(param: str, alert: float | None, i: int) -> float:
    if param in _NOMINAL:
        return _NOMINAL[param] + (0.3 if i % 2 else -0.3) * (i % 5) / 4
    return float(round((alert or 100.0) * (0.2 + 0.05 * ((i * 7) % 5))))


def _window(rt: Runtime, room_iri: str) -> tuple[int, int] | None:
    """Twenty minutes from ten minutes into the room's latest run of at least 40 minutes."""
    runs = rt.store.get_many(e.src for e in rt.store.links([room_iri], [R.PERFORMED_IN],
                                                           Direction.DOWNSTREAM))
    spans = sorted((_ms(str(x.props[P.startedAtTime])), _ms(str(x.props[P.endedAtTime])))
                   for x in runs.values()
                   if x.props.get(P.startedAtTime) and x.props.get(P.endedAtTime))
    long = [(s, e) for s, e in spans if e - s >= 40 * _MIN]
    if not long:
        return None
    s = long[-1][0] + 10 * _MIN
    return s, s + 20 * _MIN


def replay_environment(rt: Runtime, out_dir: Path | None = None, fresh: bool = True,
                       publishers: Sequence[Callable[[Notification], None]] = ()
                       ) -> dict[str, int]:
    """Write the room conditions as ``environment.csv`` and ``environment-tags.json`` (in
    ``out_dir``, default the data directory) and replay them into the raw store under the data
    directory (``fresh``: a new raw store, as the demo's store is new). Returns counts."""
    data = rt.settings.data_dir
    out = Path(out_dir or data)
    out.mkdir(parents=True, exist_ok=True)
    if fresh:
        shutil.rmtree(data / "signals", ignore_errors=True)
    rooms = {r.key: r for r in rt.store.nodes_of_class(C.Room)
             if str(r.props.get(P.cleanroomClass)) in DEFAULTS}
    execs = rt.store.nodes_of_class(C.OperationExecution)
    starts = [_ms(str(x.props[P.startedAtTime])) for x in execs if x.props.get(P.startedAtTime)]
    ends = [_ms(str(x.props[P.endedAtTime])) for x in execs if x.props.get(P.endedAtTime)]
    if not rooms or not starts:
        return {"samples": 0, "findings": 0}
    t0, t1 = min(starts) // (60 * _MIN) * 60 * _MIN, max(ends or starts) + 60 * _MIN
    target = rooms.get(EXCURSION_ROOM)
    window = _window(rt, target.iri) if target is not None else None
    tags = []
    with (out / "environment.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["address", "time", "value", "unit"])
        for key, room in sorted(rooms.items()):
            cls = str(room.props[P.cleanroomClass])
            step = (STEP_CLEANROOM if key == EXCURSION_ROOM else STEP_CLASSIFIED
                    if cls.startswith("ISO") else STEP_OTHER) * _MIN
            for param, lim in sorted(DEFAULTS[cls].items()):
                addr = f"plant/env/{key}/{param}"
                tags.append({"address": addr, "room": key, "parameter": param,
                             "unit": UNITS[param]})
                for i, t in enumerate(range(t0, t1, step)):
                    v = _value(param, lim.alert_high, i)
                    if (window and (key, param) == (EXCURSION_ROOM, EXCURSION_PARAMETER)
                            and window[0] <= t <= window[1] and lim.usl is not None):
                        v = round(lim.usl * (1.2 + 0.02 * (i % 3)))
                    w.writerow([addr, ms_to_text(t), v, UNITS[param]])
    (out / "environment-tags.json").write_text(json.dumps({"tags": tags}, indent=1))
    p = SignalPipeline(rt, TagMap.model_validate({"tags": tags}), RawStore(data / "signals"),
                       publishers=publishers)
    try:
        found = replay_csv(p, out / "environment.csv", batch=5000)
    finally:
        p.state.close()
        p.raw.close()
    return {"samples": p.samples_in, "findings": len(found),
            "deviations": sum(1 for f in found if f.deviation)}

