"""A writer process for the backup drills: ``python -m bench.backup_writer DATA_DIR [N]``.

Writes one Material per transaction through the one write path (``Runtime.capture``) and one
raw signal sample per round (``RawStore.append``), and prints ``ack KEY TX SOURCE_MS`` on stdout
only after both are committed, so every printed line is an acknowledged write. Prints ``ready``
once the store is open. Stops after N rounds (default: until killed).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ingest.signals.model import Observation
from ingest.signals.rawstore import RawStore
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

T0_MS = 1_780_000_000_000  # a fixed UTC day for the raw samples


def document(i: int) -> dict[str, object]:
    return {"format": "tracegraph.capture/1", "events": [{"eventId": f"drill-{i}", "nodes": [
        {"class": "Material", "key": f"DRILL-{i}",
         "properties": {"name": f"drill material {i}", "materialType": "resin",
                        "unitCode": "kg"}}]}]}


def main(data: Path, rounds: int | None) -> None:
    rt = Runtime.open(Settings(data_dir=data, store="embedded"))
    raw = RawStore(data / "signals")
    print("ready", flush=True)
    i = 0
    while rounds is None or i < rounds:
        r = rt.capture(document(i))
        t = T0_MS + i
        raw.append([Observation("DRILL-EQ", "temp", 20.0 + i % 7, "Cel", t, t)])
        print(f"ack DRILL-{i} {r.tx} {t}", flush=True)
        i += 1
    raw.close()
    rt.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None)
