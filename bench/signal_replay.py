"""A fault-free replay of the samples a fault run stored (:mod:`bench.signal_faults`): the same
plant in a fresh data directory, every stored sample fed once, in source-time order, in
batches, with no kill, restart, duplicate or late sample. Its records are what the faulted
run's must equal: the same excursions, and the same SPC warnings (a fault must neither add
nor hide one; on in-control data the warnings left are the run rules' own false alarms, at
the rate :data:`quality.spc.FALSE_EPISODES_PER_SUBGROUP` states)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.plant import PLANT_MIGRATION
from bench.signal_plant import T0_MS, plant, presses
from ingest.signals.model import TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["Replay", "replay"]


@dataclass
class Replay:
    samples: int
    excursions: int
    deviations: int
    spc_warnings: int


def replay(raw: Path, root: Path, streams: int, batch: int = 2000) -> Replay:
    """Replay the raw store ``raw`` (of :func:`bench.signal_plant.presses` streams) into a
    fresh data directory ``root``."""
    rt = Runtime.open(Settings(data_dir=root))
    try:
        rt.capture(plant(), migration=PLANT_MIGRATION)
        doc, tags = presses(streams)
        rt.capture(doc, migration=PLANT_MIGRATION)
        p = SignalPipeline(rt, TagMap.model_validate(tags), RawStore(root / "signals"),
                           publishers=[])
        src = RawStore(raw)
        end = src.latest_ms() or T0_MS
        obs = sorted((o for key in src.streams()
                      for o in src.window(*key, T0_MS, end, limit=2**40)),
                     key=lambda o: (o.source_ms, o.equipment))
        src.close()
        for i in range(0, len(obs), batch):
            p.process(obs[i:i + batch])
        p.flush()
        p.raw.close()
        spc = sum(1 for n in rt.store.nodes_of_class("Excursion")
                  if n.props.get("excursionLevel") == "spcRule")
        counts = rt.store.counts()
        return Replay(len(obs), counts.get("Excursion", 0) - spc, counts.get("Deviation", 0),
                      spc)
    finally:
        rt.close()
