"""One contract for the three adapters: the same fixture signal (an excursion in a running
stream) sent through a real Mosquitto broker, a real asyncua server and a CSV file gives the same
stored samples and the same records: one deviation, the same holds, one notification."""

from __future__ import annotations

import asyncio
import csv
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.server.server import Server

from bench.signal_plant import HELD, TAGS, TOPIC, plant, signal
from ingest.signals.csv import replay_csv
from ingest.signals.model import TagMap
from ingest.signals.mqtt import MqttConsumer
from ingest.signals.opcua import OpcUaConsumer
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from quality.notify import Notification
from tests import signal_services
from tests.conftest import migrate
from tests.signal_services import Broker, Publisher, free_port, wait_for
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

broker = signal_services.broker  # the fixture
NODE = "ns=2;s=IMM-01.MELT-TEMP"


def _pipeline(tmp: Path) -> tuple[Runtime, SignalPipeline, list[Notification]]:
    rt = Runtime.open(Settings(data_dir=tmp))
    migrate(rt, plant())
    sink: list[Notification] = []
    return rt, SignalPipeline(rt, TagMap.model_validate(TAGS), RawStore(tmp / "raw"),
                              publishers=[sink.append]), sink


def _outcome(rt: Runtime, p: SignalPipeline, sink: list[Notification]) -> dict[str, Any]:
    samples = p.raw.window("IMM-01", "MELT-TEMP", 0, 4_102_444_800_000)
    keys = {}
    for n in sink:
        targets = [e.dst for e in rt.store.links([n.hold or ""], ["HOLDS"])]
        keys[n.kind] = sorted(x.key for x in rt.store.get_many(targets).values())
    out = {"samples": [s.content() for s in samples],
           "notifications": [(n.kind, n.level, n.peak, n.grade, n.detected_at, n.batch)
                             for n in sink],
           "held": keys,
           "counts": {k: rt.store.counts().get(k, 0)
                      for k in ("Excursion", "Alarm", "Deviation", "Hold")}}
    rt.close()
    return out


def via_csv(tmp: Path) -> dict[str, Any]:
    rt, p, sink = _pipeline(tmp)
    f = tmp / "history.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["address", "time", "value", "quality", "seq", "unit"])
        for i, (ms, v) in enumerate(signal("excursion")):
            w.writerow([TOPIC, ms_to_text(ms), repr(v), "good", i, "Cel"])
    replay_csv(p, f, batch=64)
    return _outcome(rt, p, sink)


def via_mqtt(tmp: Path, broker: Broker) -> dict[str, Any]:
    rt, p, sink = _pipeline(tmp)
    c = MqttConsumer(p, broker.host, broker.port, "contract", ["plant/#"])
    t = threading.Thread(target=c.run)
    t.start()
    try:
        assert c.connected.wait(10)
        pub = Publisher(broker)
        samples = signal("excursion")
        for i, (ms, v) in enumerate(samples):
            pub.publish(TOPIC, {"value": v, "time": ms, "seq": i, "unit": "Cel"})
        wait_for(lambda: c.acked >= len(samples), what="MQTT samples acknowledged")
        pub.close()
    finally:
        c.stop.set()
        t.join(10)
    return _outcome(rt, p, sink)


async def _opcua(p: SignalPipeline) -> OpcUaConsumer:
    server = Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{free_port()}/tg/"
    server.set_endpoint(url)
    idx = await server.register_namespace("urn:tracegraph:test")
    assert idx == 2
    obj = await server.nodes.objects.add_object(idx, "IMM-01")
    var = await obj.add_variable(ua.NodeId("IMM-01.MELT-TEMP", idx), "MELT-TEMP", 0.0)
    await var.write_value(ua.DataValue(ua.Variant(0.0, ua.VariantType.Double),
                                       ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData)))
    consumer = OpcUaConsumer(p, url)
    stop, ready = asyncio.Event(), asyncio.Event()
    async with server:
        task = asyncio.create_task(consumer.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 10)
        samples = signal("excursion")
        for ms, v in samples:
            await var.write_value(ua.DataValue(
                ua.Variant(v, ua.VariantType.Double),
                SourceTimestamp=datetime.fromtimestamp(ms / 1000, tz=UTC)))
            await asyncio.sleep(0)  # a running stream, not one burst
        for _ in range(600):
            if p.raw.count() >= len(samples):
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 20)
    return consumer


def via_opcua(tmp: Path) -> dict[str, Any]:
    rt, p, sink = _pipeline(tmp)
    consumer = asyncio.run(_opcua(p))
    assert consumer.gaps == []  # sequence numbers tracked, none missing
    return _outcome(rt, p, sink)


@pytest.mark.mqtt
@pytest.mark.opcua
def test_mqtt_opcua_and_csv_give_identical_results(broker: Broker, tmp_path: Path) -> None:
    reference = via_csv(tmp_path / "csv")
    assert reference["counts"] == {"Excursion": 1, "Alarm": 1, "Deviation": 1, "Hold": 1}
    assert reference["held"] == {"deviation": sorted(HELD)}
    assert len(reference["samples"]) == len(signal("excursion"))
    assert via_mqtt(tmp_path / "mqtt", broker) == reference
    assert via_opcua(tmp_path / "opcua") == reference
