"""OPC UA sequence gaps are recovered before they are recorded (issue 17, item 4), against a real
asyncua server that loses publish responses in transit: the server's network layer drops the
response carrying chosen notifications, which stay in the subscription's retransmission queue
(unacknowledged), so the client's Republish gets them back. One dropped notification is also
taken out of the retransmission queue (as a server whose queue overflowed would): that one,
and only that one, is recorded as a data-integrity gap, and only its samples are missing —
unless the server historizes the node: then a history read fills it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asyncua import ua
from asyncua.server.server import Server
from asyncua.server.uaprocessor import UaProcessor

from bench.mosquitto import free_port
from bench.signal_plant import TAGS, plant, signal
from ingest.signals.model import TagMap
from ingest.signals.opcua import OpcUaConsumer
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from tests.conftest import migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

pytestmark = pytest.mark.opcua

RECOVERABLE = {3, 4, 9}  # responses lost in transit, still in the retransmission queue
UNRECOVERABLE = 12  # lost in transit and gone from the retransmission queue


class LossyNetwork:
    """Patches the SERVER's publish response path: a response carrying a chosen sequence number
    is not sent (the publish request stays queued for the next response)."""

    def __init__(self) -> None:
        self.dropped: dict[int, int] = {}  # sequence number → samples it carried
        self.original = UaProcessor.forward_publish_response

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        net = self

        async def lossy(proc: UaProcessor, result: ua.PublishResult, requestdata: Any) -> None:
            msg = result.NotificationMessage
            seq = int(msg.SequenceNumber)
            if msg.NotificationData and seq in RECOVERABLE | {UNRECOVERABLE} \
                    and seq not in net.dropped:
                net.dropped[seq] = sum(len(n.MonitoredItems) for n in msg.NotificationData
                                       if isinstance(n, ua.DataChangeNotification))
                if seq == UNRECOVERABLE:
                    assert proc.session is not None
                    sub = proc.session.subscription_service.subscriptions[result.SubscriptionId]
                    sub._not_acknowledged_results.pop(seq)
                proc._publish_requests.appendleft(requestdata)
                return
            await net.original(proc, result, requestdata)

        monkeypatch.setattr(UaProcessor, "forward_publish_response", lossy)


async def _serve(p: SignalPipeline, samples: list[tuple[int, float]], historized: bool
                 ) -> OpcUaConsumer:
    server = Server()
    await server.init()
    url = f"opc.tcp://127.0.0.1:{free_port()}/tg/"
    server.set_endpoint(url)
    idx = await server.register_namespace("urn:tracegraph:test")
    obj = await server.nodes.objects.add_object(idx, "IMM-01")
    var = await obj.add_variable(ua.NodeId("IMM-01.MELT-TEMP", idx), "MELT-TEMP", 0.0)
    await var.write_value(ua.DataValue(  # stamped: asyncua's history needs source times
        ua.Variant(0.0, ua.VariantType.Double),
        ua.StatusCode(ua.StatusCodes.BadWaitingForInitialData),
        SourceTimestamp=datetime.fromtimestamp(samples[0][0] / 1000 - 60, tz=UTC)))
    if historized:  # the server keeps the node's history (asyncua's in-memory history)
        await server.historize_node_data_change(var, period=None, count=0)
    consumer = OpcUaConsumer(p, url, publishing_ms=20)
    stop, ready = asyncio.Event(), asyncio.Event()
    async with server:
        task = asyncio.create_task(consumer.run(stop, ready))
        await asyncio.wait_for(ready.wait(), 10)
        for ms, v in samples:
            await var.write_value(ua.DataValue(
                ua.Variant(v, ua.VariantType.Double),
                SourceTimestamp=datetime.fromtimestamp(ms / 1000, tz=UTC)))
            await asyncio.sleep(0.01)  # a paced stream: many publish responses
        for _ in range(200):
            if consumer.last_seq is not None and consumer.last_seq > UNRECOVERABLE + 2 \
                    and consumer.q.empty():
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 20)
    return consumer


@pytest.mark.parametrize("historized", [False, True])
def test_sequence_gaps_are_recovered_by_republish_and_only_the_rest_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, historized: bool) -> None:
    """Without history the notification gone from the retransmission queue is a recorded
    gap; with the node historized a history read fills it and nothing is recorded."""
    net = LossyNetwork()
    net.install(monkeypatch)
    rt = Runtime.open(Settings(data_dir=tmp_path))
    migrate(rt, plant())
    p = SignalPipeline(rt, TagMap.model_validate(TAGS), RawStore(tmp_path / "raw"),
                       publishers=[])
    samples = signal("noisy", n=300)
    consumer = asyncio.run(_serve(p, samples, historized))
    try:
        assert set(net.dropped) == RECOVERABLE | {UNRECOVERABLE}  # the network did lose them
        assert consumer.recovered == len(RECOVERABLE)
        assert net.dropped[UNRECOVERABLE] >= 1
        stored = [s.content() for s in p.raw.window("IMM-01", "MELT-TEMP", 0,
                                                     4_102_444_800_000)]
        if historized:
            assert consumer.from_history == 1 and consumer.gaps == [] and p.raw.gaps() == []
            assert [(t, v) for _e, _t, v, _u, t, _q in stored] == samples  # all, once
            return
        assert consumer.gaps == [(UNRECOVERABLE, UNRECOVERABLE + 1)]
        [(_at, source, first, last)] = p.raw.gaps()
        assert (source, first, last) == (consumer.url, UNRECOVERABLE, UNRECOVERABLE)
        assert len(stored) == len(samples) - net.dropped[UNRECOVERABLE]  # only those missing
    finally:
        rt.close()
