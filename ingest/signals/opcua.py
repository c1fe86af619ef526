"""OPC UA adapter (asyncua client): one subscription with a monitored item per mapped NodeId
(the mapping's address, e.g. ``ns=2;s=IMM-01.MELT-TEMP``), queued so no sample is conflated.

Each publish's notification sequence number is tracked. On a gap the missed notifications are
recovered first: the server keeps every notification the client has not acknowledged in its
retransmission queue, so each missing sequence number is asked for by Republish (OPC UA Part 4,
5.13.6) and its samples are delivered before the notification that revealed the gap (counted in
:attr:`OpcUaConsumer.recovered`). What the server cannot republish any more is read from
the server's history where it offers one (the nodes are historized): the samples between the
last one received before the gap and the newest one of the notification that revealed it (the
raw store ignores those it already has; :attr:`OpcUaConsumer.from_history` counts the gaps so
filled). Only what neither recovers is recorded as
a data-integrity gap (in the raw store, see :meth:`RawStore.record_gap`, and
:attr:`OpcUaConsumer.gaps`) and logged. Source timestamps and status codes become the
observation's source time and quality.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.common.subscription import DataChangeNotif
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.status_codes import StatusCodes

from ingest.signals.model import Observation, now_ms
from ingest.signals.pipeline import SignalPipeline

__all__ = ["OpcUaConsumer"]

log = logging.getLogger("tracegraph.signals.opcua")


def _quality(status: ua.StatusCode | None) -> str:
    if status is None or status.is_good():
        return "good"
    return "uncertain" if status.is_uncertain() else "bad"


class OpcUaConsumer:
    def __init__(self, pipeline: SignalPipeline, url: str, publishing_ms: int = 20,
                 queue_size: int = 10_000, batch_wait: float = 0.02) -> None:
        self.pipeline = pipeline
        self.url = url
        self.publishing_ms = publishing_ms
        self.queue_size = queue_size
        self.batch_wait = batch_wait
        self.q: asyncio.Queue[Observation] = asyncio.Queue(100_000)
        self.gaps: list[tuple[int, int]] = []  # (expected, got) sequence numbers
        self.recovered = 0  # notifications recovered by Republish
        self.from_history = 0  # gaps filled by a history read
        self.last_src_ms = -1  # newest source time received
        self._nodes: list[Node] = []
        self.last_seq: int | None = None
        self.received = 0
        self._addr: dict[str, str] = {}

    # asyncua handler interface
    def datachange_notification(self, node: Node, val: Any, data: DataChangeNotif) -> None:
        self._put(node, val, data.monitored_item.Value)

    def _put(self, node: Node, val: Any, dv: ua.DataValue) -> None:
        src = dv.SourceTimestamp or dv.ServerTimestamp
        if src is None or val is None or (
                dv.StatusCode is not None
                and dv.StatusCode.value == StatusCodes.BadWaitingForInitialData):
            return  # no sample yet
        o = self.pipeline.observation(self._addr.get(node.nodeid.to_string(), ""), float(val),
                                      round(src.timestamp() * 1000), _quality(dv.StatusCode),
                                      self.last_seq or 0, None, now_ms())
        if o is not None:
            self.q.put_nowait(o)
            self.received += 1
            self.last_src_ms = max(self.last_src_ms, o.source_ms)

    def status_change_notification(self, status: Any) -> None:
        log.warning("OPC UA subscription status change: %s", status)

    def _missing(self, seq: int) -> range:
        """The sequence numbers skipped before ``seq``."""
        return range(self.last_seq + 1 if self.last_seq is not None else seq, seq)

    def _track(self, seq: int, lost: Iterable[int] | None = None) -> None:
        """``seq`` arrived: record the notifications missing before it (``lost``: those that
        recovery could not fill; default all that were skipped) as data-integrity gaps."""
        missing = sorted(self._missing(seq) if lost is None else lost)
        for _, run in itertools.groupby(enumerate(missing), lambda p: p[1] - p[0]):
            nums = [n for _, n in run]
            self.gaps.append((nums[0], nums[-1] + 1))
            log.warning("data-integrity: OPC UA notifications %d..%d missing", nums[0],
                        nums[-1])
            self.pipeline.raw.record_gap(self.url, nums[0], nums[-1], now_ms(),
                                         "not recovered by Republish or history read")
        self.last_seq = max(seq, self.last_seq or 0)

    async def _recover(self, republish: Callable[[int, int], Awaitable[ua.NotificationMessage]],
                       deliver: Callable[[ua.PublishResult], Awaitable[None]], sub_id: int,
                       missing: Iterable[int]) -> list[int]:
        """Republish each missing notification and deliver it; the ones the server no longer
        holds (an error, or an empty message) are returned."""
        lost = []
        for n in missing:
            try:
                msg = await republish(sub_id, n)
            except Exception as e:  # BadMessageNotAvailable, a closed session, ...
                log.warning("Republish of OPC UA notification %d failed: %s", n, e)
                msg = None
            if msg is None or not msg.NotificationData or int(msg.SequenceNumber) != n:
                lost.append(n)
                continue
            self.recovered += 1
            await deliver(ua.PublishResult(sub_id, NotificationMessage=msg))
        return lost

    async def _from_history(self, start_ms: int, result: ua.PublishResult) -> bool:
        """Read every node's history from ``start_ms`` to the newest source time of
        ``result`` (the notification after the gap); False unless every node is historized
        and answered."""
        stamps = [dv.SourceTimestamp for n in result.NotificationMessage.NotificationData
                  if isinstance(n, ua.DataChangeNotification)
                  for dv in (item.Value for item in n.MonitoredItems)
                  if dv is not None and dv.SourceTimestamp is not None]
        if start_ms < 0 or not stamps or not self._nodes:
            return False
        start = datetime.fromtimestamp(start_ms / 1000, tz=UTC)
        try:
            for node in self._nodes:
                hist = await node.read_attribute(AttributeIds.Historizing)
                if hist.Value is None or hist.Value.Value is not True:
                    return False
                for dv in await node.read_raw_history(start, max(stamps)):
                    self._put(node, dv.Value.Value if dv.Value is not None else None, dv)
        except Exception as e:  # the server offers no history for it
            log.warning("OPC UA history read for a gap failed: %s", e)
            return False
        self.from_history += 1
        return True

    async def run(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        async with Client(self.url) as client:
            sub = await client.create_subscription(self.publishing_ms, self)
            inner = sub.publish_callback

            async def tracked(result: ua.PublishResult) -> None:
                if result.NotificationMessage.NotificationData:
                    seq = int(result.NotificationMessage.SequenceNumber)
                    missing, before = self._missing(seq), self.last_src_ms
                    lost = await self._recover(client.uaclient.session.republish, inner,
                                               result.SubscriptionId, missing) \
                        if missing else []
                    if lost and await self._from_history(before, result):
                        lost = []
                    self._track(seq, lost)
                await inner(result)

            sub.publish_callback = tracked  # type: ignore[method-assign,assignment]  # wraps asyncua's callback to track sequence numbers
            assert sub.subscription_id is not None
            client.uaclient._subscription_callbacks[sub.subscription_id] = tracked
            nodes = []
            for b in self.pipeline.tags.tags:
                if not b.address.startswith(("ns=", "i=", "s=", "g=", "b=")):
                    continue  # not a NodeId (another adapter's address)
                node = client.get_node(b.address)
                self._addr[node.nodeid.to_string()] = b.address
                nodes.append(node)
            self._nodes = nodes
            # every sample, even one repeating the previous value, is a notification
            trigger = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
            await sub._subscribe(nodes, AttributeIds.Value, trigger, self.queue_size)
            if ready is not None:
                ready.set()
            while not stop.is_set() or not self.q.empty():
                await self._drain()
            await sub.delete()
        self.pipeline.flush()

    async def _drain(self) -> None:
        try:
            first = await asyncio.wait_for(self.q.get(), timeout=0.1)
        except TimeoutError:
            return
        batch = [first]
        await asyncio.sleep(self.batch_wait)
        while not self.q.empty():
            batch.append(self.q.get_nowait())
        await asyncio.to_thread(self.pipeline.process, batch)
