"""SPC in the signal pipeline (issue 17, item 3 leftovers): a late sample does not raise a
second warning for a rule episode already alarmed; a spec whose subgroups are per execution
gets its run rules evaluated by the pipeline when an execution completes."""

from __future__ import annotations

from pathlib import Path

from bench.signal_plant import TAGS, TOPIC, plant, signal
from ingest.signals.model import Observation, TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from quality.notify import Notification
from tests.conftest import migrate
from tracegraph.runtime import Runtime


def _pipeline(rt: Runtime, tmp_path: Path, sink: list[Notification]) -> SignalPipeline:
    migrate(rt, plant())
    return SignalPipeline(rt, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                          publishers=[sink.append])


def _spc_alarms(rt: Runtime) -> int:
    return sum(1 for n in rt.store.nodes_of_class("Excursion")
               if n.props.get("excursionLevel") == "spcRule")


def test_a_late_sample_does_not_raise_a_second_spc_warning(runtime: Runtime,
                                                           tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipeline(runtime, tmp_path, sink)
    obs = [o for i, (t, v) in enumerate(signal("drift"))
           if (o := p.observation(TOPIC, v, t, sequence=i)) is not None]
    late: Observation = obs.pop(150)  # held back in the network, before the shift at 300
    for i in range(0, len(obs), 50):
        p.process(obs[i:i + 50])
    assert [n.kind for n in sink] == ["spcWarning"] and _spc_alarms(runtime) == 1
    p.process([late])  # arrives after the episode was alarmed: re-evaluated, stored
    assert p.raw.count() == len(obs) + 1
    assert [n.kind for n in sink] == ["spcWarning"]  # the same episode: no second warning
    assert _spc_alarms(runtime) == 1
    assert runtime.store.counts().get("Alarm") == 1
