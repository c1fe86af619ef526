"""Issue 17 G: the signal consumer's memory stays flat over a long run. Its growth came from
work and backlog that grew with the run, not from a leak on the Python heap:

- each late sample re-evaluated its stream from before the previous late sample (the
  re-evaluation left no checkpoint behind), so the samples re-read per late sample grew with
  the run, the consumer fell behind and its backlog of queued messages grew;
- every periodic flush read the running execution's whole raw window into memory to write
  its aggregate;
- the MQTT queue held paho's message objects (about 1.6 kB each).

These tests count the retained or re-read structures after N samples (the RSS figure itself
is printed by ``python -m bench.signal_faults``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from bench.signal_plant import T0_MS, TAGS, TOPIC, plant
from ingest.signals.model import Observation, TagMap
from ingest.signals.mqtt import MqttConsumer
from ingest.signals.pipeline import MARK_EVERY, SignalPipeline
from ingest.signals.rawstore import OPEN_DAYS, RawStore
from ontology.datatypes import ms_to_text
from tests.conftest import migrate
from tracegraph.runtime import Runtime

START = T0_MS + 30 * 60_000  # OP10 of B-MOULD-7 on IMM-01 runs from T0 and has not ended
LATE_EVERY, LATE_BY = 97, 200


@pytest.fixture
def pipe(runtime: Runtime, tmp_path: Path) -> Iterator[SignalPipeline]:
    migrate(runtime, plant())
    p = SignalPipeline(runtime, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                       publishers=[])
    yield p
    p.raw.close()


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of raw samples each ``RawStore.window`` call brought into memory."""
    out: list[int] = []
    window = RawStore.window

    def counted(self: RawStore, *a: object, **k: object) -> list[Observation]:
        xs = window(self, *a, **k)  # type: ignore[arg-type]  # passed through unchanged
        out.append(len(xs))
        return xs

    monkeypatch.setattr(RawStore, "window", counted)
    return out


def value(i: int, period: int, offset: int) -> float:
    """Sample ``i``: steady around 230 (alternating, so SPC stays quiet and what is read is
    the late samples' re-evaluation alone), except a 5-sample excursion to 256 (beyond the
    USL 250) in the middle of each period."""
    if period // 2 <= (i + offset) % period < period // 2 + 5:
        return 256.0
    return 230.0 + (1 if i % 2 else -1) * (0.4 + (i * 7 % 11) / 11 * 1.6)


def _late_order(n: int) -> list[int]:
    """0..n-1 with every LATE_EVERY-th sample sent LATE_BY samples late."""
    out: list[int] = []
    held: dict[int, list[int]] = {}
    for i in range(n):
        if i % LATE_EVERY == LATE_EVERY - 1 and i + LATE_BY < n:
            held.setdefault(i + LATE_BY, []).append(i)
        else:
            out.append(i)
        out += held.pop(i, [])
    return out


def test_late_samples_re_read_a_bounded_window_however_long_the_run(
        pipe: SignalPipeline, runtime: Runtime, reads: list[int]) -> None:
    n, batch = 3000, 10
    order = _late_order(n)
    per_batch: list[int] = []
    for i in range(0, n, batch):
        before = len(reads)
        pipe.process([o for j in order[i:i + batch] if (o := pipe.observation(
            TOPIC, value(j, 400, 0), START + j * 100, sequence=j)) is not None])
        per_batch.append(sum(reads[before:]))
    assert pipe.late >= n // LATE_EVERY - 3  # the late samples were re-evaluated …
    # … each from a checkpoint just before it: what a late sample re-reads is its lateness
    # plus the checkpoint spacing, at the end of the run as at its start (it grew to the whole
    # run so far, ~n samples, before)
    assert max(per_batch) <= LATE_BY + 2 * batch + MARK_EVERY
    # and nothing lost or doubled: one deviation per planted excursion (one per 400 samples)
    planted = sum(1 for j in range(n) if value(j, 400, 0) > 250 >= value(j - 1, 400, 0))
    assert runtime.store.counts().get("Deviation", 0) == planted == n // 400


def test_flush_aggregates_inside_the_store_and_matches_numpy(
        pipe: SignalPipeline, runtime: Runtime, reads: list[int]) -> None:
    rng = np.random.default_rng(17)
    n = 4000
    values = 230 + rng.normal(0, 1.5, n)
    # the run crosses midnight UTC: its samples are in two day files of the raw store
    midnight = (START // 86_400_000 + 1) * 86_400_000
    times = [START + i * 100 for i in range(n // 2)] + \
        [midnight - 30_000 + i * 100 for i in range(n - n // 2)]
    bad = set(range(5, n, 113))  # quality bad: stored, never part of the aggregate
    obs = [o for i in range(n) if (o := pipe.observation(
        TOPIC, float(values[i]), times[i], "bad" if i in bad else "good", i)) is not None]
    for i in range(0, n, 500):
        pipe.process(obs[i:i + 500])
    del reads[:]
    pipe.flush()
    assert sum(reads) == 0  # no raw sample of the run brought into memory by the flush
    agg = runtime.store.get(runtime.vocab.mint_iri("ParameterObservation",
                                                   "B-MOULD-7/OP10/MELT-TEMP"))
    good = np.array([values[i] for i in range(n) if i not in bad])
    assert agg is not None and agg.props["sampleCount"] == len(good) == n - len(bad)
    assert agg.props["meanValue"] == pytest.approx(float(np.mean(good)), abs=1e-9)
    assert agg.props["stdDev"] == pytest.approx(float(np.std(good, ddof=1)), rel=1e-9)
    assert (agg.props["minValue"], agg.props["maxValue"]) == (good.min(), good.max())
    first = min(t for i, t in enumerate(times) if i not in bad)
    last = max(t for i, t in enumerate(times) if i not in bad)
    assert (agg.props["windowStart"], agg.props["windowEnd"]) == (
        ms_to_text(first), ms_to_text(last))


def test_mqtt_queue_retains_no_paho_message_objects(pipe: SignalPipeline) -> None:
    c = MqttConsumer(pipe, "127.0.0.1", 1, "memory-test", ["plant/#"])
    for i in range(2000):  # what the network thread does per received message
        m = mqtt.MQTTMessage(i + 1, TOPIC.encode())
        m.payload, m.qos = b'{"value": 230.1, "time": 1772440200000}', 1
        c._on_message(c.client, None, m)
    del m
    gc.collect()
    assert c.q.qsize() == 2000
    assert sum(isinstance(o, mqtt.MQTTMessage) for o in gc.get_objects()) == 0
    topic, payload, mid, qos = c.q.get_nowait()
    assert (topic, mid, qos) == (TOPIC, 1, 1) and payload.startswith(b'{"value"')


def test_raw_store_keeps_a_bounded_number_of_day_files_open(tmp_path: Path) -> None:
    raw = RawStore(tmp_path / "raw")
    days = 10  # a consumer running for days: one SQLite file (and connection) per UTC day
    obs = [Observation("IMM-01", "MELT-TEMP", 230.0 + d, "Cel", START + d * 86_400_000 + i,
                       START, "good", i) for d in range(days) for i in range(3)]
    for d in range(days):
        assert len(raw.append_new(obs[3 * d:3 * d + 3])) == 3
        assert len(raw._cons) <= OPEN_DAYS
    # closed days are reopened when read: nothing lost
    assert [o.value for o in raw.window("IMM-01", "MELT-TEMP", START, START + days * 86_400_000)
            ] == [o.value for o in obs]
    assert raw.count() == 3 * days and len(raw._cons) <= OPEN_DAYS
    raw.close()
