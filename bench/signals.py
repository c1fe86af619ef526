"""Signal-loop benchmark: samples/s sustained through a real Mosquitto broker → MQTT consumer
(QoS 1, persistent session, ack after commit) → raw store → detection → exception-loop commit,
and the latency from publishing the sample that completes an excursion to the committed
deviation + hold (p50/p99). Figures are printed, never asserted (DESIGN.md §10).

The publishers run in their own processes (``--publishers``, each with a share of the
streams, so that publishing is not the bound), the broker in another; the consumer, detection
and the embedded store in this one. Every press stream injects an out-of-spec excursion (5
samples above the USL) every ``--period`` samples; ``--rooms`` cleanrooms add five in-spec
environment streams each (:mod:`bench.signal_rooms`: environment monitoring on).

    .venv/bin/python -m bench.signals --streams 20 --rooms 2 --samples 10000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.mosquitto import Broker, mosquitto_binary
from bench.plant import PLANT_MIGRATION
from bench.signal_plant import T0_MS, plant, presses
from bench.signal_rooms import room_value, rooms
from graph.engines.sqlite import SQLiteStore
from ingest.signals.model import TagMap, text_to_ms
from ingest.signals.mqtt import MqttConsumer
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.environment import UNITS
from quality.notify import Notification
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

STEP_MS = 100
EXCURSION_AT = 1000  # offset within each period
EXCURSION_LEN = 5
DEBOUNCE = 3


def value(i: int, period: int, offset: int = 0) -> float:
    """Sample ``i`` of a stream whose excursions start ``offset`` samples into each period."""
    j = (i - offset) % period
    if EXCURSION_AT <= j < EXCURSION_AT + EXCURSION_LEN:
        return 256.0
    return 230.0 + (1 if i % 2 else -1) * (0.4 + (i * 7 % 11) / 11 * 1.6)


def publish(host: str, port: int, streams: int, samples: int, period: int, out: Path,
            rate: float, n_rooms: int = 0, part: int = 0, parts: int = 1,
            gateway: bool = False) -> None:
    """One publisher process: round-robin over its share of the streams (every ``parts``-th
    from ``part``), QoS 1, as fast as acks allow or paced to its share of ``rate``
    samples/s (0: unpaced). ``gateway``: each room's monitoring system publishes as a
    Sparkplug edge node, one DDATA message per room and sample time with its five metrics
    (topic ``spBv1.0/plant/DDATA/env/<room>``; the metric addresses are the tag map's)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{part}",
                    protocol=mqtt.MQTTv311)
    c.max_inflight_messages_set(20)  # paho scans its in-flight set per PUBACK: keep it small
    c.max_queued_messages_set(0)
    c.connect(host, port)
    c.loop_start()
    t0 = T0_MS + 30 * 60_000
    marks: dict[str, float] = {}
    presses = [f"plant/IMM-B{k}/MELT-TEMP" for k in range(streams)]
    every = presses + [t["address"] for t in rooms(n_rooms)[1]]
    mine = set(every[part::parts])
    topics = [t for t in presses if t in mine]
    env = [t for t in every[streams:] if t in mine]
    by_room: dict[str, list[str]] = {}
    for t in rooms(n_rooms)[1]:
        by_room.setdefault(t["room"], []).append(t["address"])
    devices = {r: xs for r, xs in by_room.items() if xs[0] in mine} if gateway else {}
    env = [] if gateway else env
    tick = len(every) / rate if rate > 0 else 0.0  # seconds per sample time, all streams
    start = time.time()
    pending: deque[mqtt.MQTTMessageInfo] = deque()
    stagger = max(1, (period - EXCURSION_AT) // max(streams, 1))
    for i in range(samples):
        if rate > 0:
            ahead = start + i * tick - time.time()
            if ahead > 0:
                time.sleep(ahead)
        ms = t0 + i * STEP_MS
        for room, addresses in devices.items():
            pending.append(c.publish(f"spBv1.0/plant/DDATA/env/{room}", orjson.dumps({
                "timestamp": ms, "seq": i, "metrics": [
                    {"name": a.rsplit("/", 1)[1], "value": room_value(a, i), "timestamp": ms,
                     "unit": UNITS[a.rsplit("/", 1)[1]]} for a in addresses]}), qos=1))
        for topic in env:
            pending.append(c.publish(topic, orjson.dumps({
                "value": room_value(topic, i), "time": ms, "seq": i,
                "unit": UNITS[topic.rsplit("/", 1)[1]]}), qos=1))
        for topic in topics:  # streams' excursions are staggered, not at once
            k = int(topic.split("/")[1].removeprefix("IMM-B"))
            offset = k * stagger
            body = orjson.dumps({"value": value(i, period, offset), "time": ms, "seq": i,
                                 "unit": "Cel"})
            pending.append(c.publish(topic, body, qos=1))
            if (i - offset) % period == EXCURSION_AT + DEBOUNCE - 1 and i >= offset:
                marks[f"IMM-B{k}|{ms}"] = time.time()
        while len(pending) > 20_000:  # paho has 65,535 message ids: stay well below
            pending.popleft().wait_for_publish(60)
    for info in pending:
        info.wait_for_publish(60)
    end = time.time()
    c.disconnect()
    c.loop_stop()
    out.write_text(json.dumps({"start": start, "end": end, "marks": marks}))


def pct(xs: list[float], q: float) -> float:
    if len(xs) < 2:
        return (xs or [0.0])[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--samples", type=int, default=10_000, help="per stream")
    ap.add_argument("--period", type=int, default=2000, help="samples between excursions")
    ap.add_argument("--rate", type=float, default=0, help="paced samples/s (0: as fast as "
                                                           "the loop acknowledges)")
    ap.add_argument("--rooms", type=int, default=2,
                    help="cleanrooms, five environment streams each")
    ap.add_argument("--publishers", type=int, default=2, help="publisher processes")
    ap.add_argument("--room-gateway", action="store_true",
                    help="rooms publish as Sparkplug edge nodes: one message per room and "
                         "sample time with its five metrics (else one message per sample)")
    ap.add_argument("--publish", nargs=4, metavar=("PORT", "OUT", "PART", "PARTS"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.publish:
        publish("127.0.0.1", int(a.publish[0]), a.streams, a.samples, a.period,
                Path(a.publish[1]), a.rate, a.rooms, int(a.publish[2]), int(a.publish[3]),
                a.room_gateway)
        return 0
    binary = mosquitto_binary()
    if binary is None:
        print("mosquitto not installed (make system-deps)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tg-bench-signals-") as tmp:
        root = Path(tmp)
        broker = Broker(binary, root / "broker")
        broker.start()
        rt = Runtime.open(Settings(data_dir=root / "data"))
        try:
            rt.capture(plant(), migration=PLANT_MIGRATION)  # Effective version, approved lots
            doc, tags = presses(a.streams)
            rt.capture(doc, migration=PLANT_MIGRATION)
            env_doc, env_tags = rooms(a.rooms)
            rt.capture(env_doc, migration=PLANT_MIGRATION)
            tags["tags"] += env_tags
            committed: dict[str, float] = {}

            def on_commit(n: Notification) -> None:
                if n.kind == "deviation":
                    committed[f"{n.equipment}|{text_to_ms(n.detected_at)}"] = time.time()

            if isinstance(rt.store, SQLiteStore):  # as `tracegraph signals mqtt` runs it
                rt.store.limit_memory(rt.settings.signals_cache_mb, rt.settings.signals_mmap_mb)
            p = SignalPipeline(rt, TagMap.model_validate(tags), RawStore(root / "data" / "raw"),
                               publishers=[on_commit], keep_records=0)
            c = MqttConsumer(p, broker.host, broker.port, "bench-consumer",
                             ["plant/#", "spBv1.0/#"])
            t = threading.Thread(target=c.run)
            t.start()
            c.connected.wait(10)
            time.sleep(0.2)
            marks_files = [root / f"marks-{k}.json" for k in range(a.publishers)]
            cpu0 = time.process_time()
            pubs = [subprocess.Popen([sys.executable, "-m", "bench.signals", "--streams",
                                      str(a.streams), "--samples", str(a.samples), "--period",
                                      str(a.period), "--rate", str(a.rate), "--rooms",
                                      str(a.rooms), "--publish", str(broker.port), str(f),
                                      str(k), str(a.publishers)]
                                     + (["--room-gateway"] if a.room_gateway else []))
                    for k, f in enumerate(marks_files)]
            total = (a.streams + 5 * a.rooms) * a.samples
            messages = (a.streams + (a.rooms if a.room_gateway else 5 * a.rooms)) * a.samples
            deadline = time.time() + 300
            while c.acked < messages and time.time() < deadline:
                time.sleep(0.01)
            done = time.time()
            cpu = time.process_time() - cpu0
            for pub in pubs:
                pub.wait(60)
            c.stop.set()
            t.join(30)
            parts = [json.loads(f.read_text()) for f in marks_files]
            m = {"start": min(x["start"] for x in parts), "end": max(x["end"] for x in parts),
                 "marks": {k: v for x in parts for k, v in x["marks"].items()}}
            lat = [(committed[k] - v) * 1000 for k, v in m["marks"].items() if k in committed]
            elapsed = done - m["start"]
            counts = rt.store.counts()
            print(f"streams {a.streams} presses + {5 * a.rooms} room ({a.rooms} cleanrooms) x "
                  f"{a.samples} samples = {total:,} samples over MQTT QoS 1 ({a.publishers} "
                  f"publisher processes, broker, consumer on this machine"
                  + ("; rooms as Sparkplug edge nodes, 5 metrics per message)"
                     if a.room_gateway else ")"))
            print(f"acknowledged {c.acked:,} messages (stored raw {p.samples_in:,} samples, "
                  f"duplicates {p.duplicates}) in {elapsed:.2f} s  ->  "
                  f"{p.samples_in / elapsed:,.0f} samples/s "
                  f"sustained (publish alone {total / (m['end'] - m['start']):,.0f}/s)")
            load = os.getloadavg()[0]
            print(f"consumer process CPU {cpu:.2f} s -> {p.samples_in / cpu:,.0f} samples per "
                  f"CPU-second (machine load average {load:.1f} on {os.cpu_count()} cores)")
            print(f"excursions injected {len(m['marks'])}, deviations committed "
                  f"{counts.get('Deviation', 0)}, holds {counts.get('Hold', 0)}")
            if lat:
                print(f"publish -> committed deviation+hold latency: p50 {pct(lat, 50):.1f} ms, "
                      f"p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms (n={len(lat)})")
        finally:
            rt.close()
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
