"""Fault suite of the signal loop against a real Mosquitto (issue 17): while a paced publisher
sends samples with planted excursions, the consumer (`tracegraph signals mqtt` in its own
process) is killed with SIGKILL and restarted, and the broker (with the shipped settings,
:data:`bench.mosquitto.DURABLE`) is restarted gracefully and killed with SIGKILL; samples are
also duplicated, sent 200 samples late and swapped out of order. Printed: acknowledged vs
stored samples, planted excursions vs deviations vs holds, QC notifications delivered / unique,
SPC warnings (the data are in control), consumer RSS over time.

The publisher behaves like an edge gateway: QoS 1, a persistent session, and after every
reconnect it re-sends the last ``RESEND`` samples it had sent before the connection dropped (a
broker crash can lose the newest acknowledged messages, see :mod:`bench.mosquitto`).

    .venv/bin/python -m bench.signal_faults --kills 20 --broker-restarts 10 --samples 6000

The integration test (tests/integration/test_signals_faults.py) runs :func:`run` with small
counts and asserts the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt

from bench.mosquitto import Broker, mosquitto_binary
from bench.plant import PLANT_MIGRATION
from bench.signal_plant import T0_MS, plant, presses
from bench.signal_replay import replay
from bench.webhook import Webhook
from ingest.signals.edge import EdgePublisher
from quality.spc import FALSE_EPISODES_PER_SUBGROUP
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

__all__ = ["Figures", "run"]

ROOT = Path(__file__).resolve().parent.parent
STEP_MS = 100
LATE_EVERY, LATE_BY, SWAP_EVERY, DUP_EVERY = 97, 200, 53, 41


SIGMA = 1.5  # the in-control history's (bench.signal_plant: B-MOULD-6, mean 230, sd 1.5)


def value(i: int, period: int, stream: int) -> float:
    """Sample ``i`` of ``stream``: in control, independent normal noise N(230, 1.5) (seeded by
    stream and index, so a re-sent sample has the same value), except a 5-sample excursion
    to 256 (beyond the USL 250) in the middle of each period."""
    if period // 2 <= (i + stream * 7) % period < period // 2 + 5:
        return 256.0
    return random.Random(stream << 32 | i).gauss(230.0, SIGMA)


@dataclass
class Figures:
    acknowledged: int = 0
    stored: int = 0
    acknowledged_missing: int = 0
    planted: int = 0
    excursions: int = 0
    deviations: int = 0
    holds: int = 0
    notified: int = 0
    notified_unique: int = 0
    deviations_notified: int = 0
    spc_warnings: int = 0
    spc_replay: int = -1  # SPC warnings of a fault-free replay of the stored samples
    excursions_replay: int = -1
    subgroups: int = 0  # in-control subgroups (of 5) the run rules looked at, about
    edge_resent: int = 0  # samples the edge re-sent after reconnects (not yet confirmed)
    edge_pending: int = 0  # samples never confirmed committed
    late: bool = True  # late and swapped samples sent
    consumer_kills: int = 0
    broker_restarts: int = 0
    broker_kills: int = 0
    rss_mb: list[tuple[float, float]] = field(default_factory=list)  # (s since start, MB)

    def lines(self) -> list[str]:
        rss = [m for _t, m in self.rss_mb]
        return [
            f"faults: {self.consumer_kills} consumer kill -9, {self.broker_restarts} broker "
            f"restarts graceful + {self.broker_kills} kill -9; duplicates every {DUP_EVERY}, "
            + (f"{LATE_BY}-samples-late every {LATE_EVERY}, swapped pairs every {SWAP_EVERY}"
               if self.late else "no late or swapped samples"),
            f"samples: acknowledged {self.acknowledged:,}, stored {self.stored:,}, "
            f"acknowledged but not stored {self.acknowledged_missing}",
            f"excursions: planted {self.planted}, excursion records {self.excursions}, "
            f"deviations {self.deviations}, holds {self.holds}",
            f"QC notifications: delivered {self.notified} ({self.notified_unique} unique ids), "
            f"deviations notified {self.deviations_notified}/{self.deviations}",
            f"edge: {self.edge_resent:,} samples re-sent after reconnects, "
            f"{self.edge_pending} never confirmed committed",
            f"SPC warnings on in-control data (N(230, {SIGMA}) noise): {self.spc_warnings}; "
            f"fault-free replay of the same samples: {self.spc_warnings_replay_text()}",
            "consumer RSS MB (t s: MB): " + ", ".join(f"{t:.0f}: {m:.0f}"
                                                     for t, m in self.rss_mb[:: max(
                                                         1, len(self.rss_mb) // 12)])
            + (f"; min {min(rss):.0f}, max {max(rss):.0f}" if rss else ""),
            *self.rss_summary()]

    def spc_warnings_replay_text(self) -> str:
        expected = FALSE_EPISODES_PER_SUBGROUP * self.subgroups
        return (f"{self.spc_replay} (excursions {self.excursions_replay}); the rules' stated "
                f"false-alarm rate over ~{self.subgroups:,} subgroups: {expected:.1f}")

    def rss_summary(self) -> list[str]:
        """Start (first reading, and one minute in: after start-up), end and maximum consumer
        RSS with their ratios: the "flat within 10 %" figure of issue 17 G (meaningful for a
        run without consumer kills: a restarted consumer starts from scratch)."""
        if not self.rss_mb:
            return []
        first, end = self.rss_mb[0][1], self.rss_mb[-1][1]
        peak = max(m for _t, m in self.rss_mb)
        minute = next((m for t, m in self.rss_mb if t >= 60), first)
        half_t = self.rss_mb[-1][0] / 2
        half = next((m for t, m in self.rss_mb if t >= half_t), first)
        return [f"consumer RSS: start {first:.0f} MB, after warm-up (1 min) {minute:.0f} MB, "
                f"half-way ({half_t:.0f} s) {half:.0f} MB, end {end:.0f} MB, max {peak:.0f} MB;"
                f" end/start {end / first:.2f}, end/warm-up {end / minute:.2f}, max/warm-up "
                f"{peak / minute:.2f}, end/half-way {end / half:.2f}"
                + (" (consumer restarted by the kills)" if self.consumer_kills else "")]


class _Edge:
    """A paced QoS 1 publisher with duplicates, late and swapped samples, on the reference
    edge of the committed-sample protocol (:class:`ingest.signals.edge.EdgePublisher`): every
    sample stays in its buffer until the consumer confirms it committed, and the buffer is
    re-sent after every reconnect."""

    def __init__(self, broker: Broker, streams: int, samples: int, period: int,
                 rate: float, late: bool = True) -> None:
        self.streams, self.samples, self.period, self.rate = streams, samples, period, rate
        self.late = late
        self.sent: list[tuple[tuple[int, int], mqtt.MQTTMessageInfo]] = []
        self.done = threading.Event()
        self.progress = 0

        def resent(key: tuple[str, int], info: mqtt.MQTTMessageInfo) -> None:
            self.sent.append(((int(key[0].split("/")[1].removeprefix("IMM-B")), key[1]), info))

        self.pub = EdgePublisher(broker.host, broker.port, "faults-edge", on_resend=resent)

    def order(self) -> list[int]:
        """Sample indexes in sending order: swapped pairs, late ones moved back, duplicates."""
        idx = list(range(self.samples))
        swap_every, late_every = (SWAP_EVERY, LATE_EVERY) if self.late else (2**62, 2**62)
        for i in range(0, self.samples - 1, swap_every):
            idx[i], idx[i + 1] = idx[i + 1], idx[i]
        out: list[int] = []
        held: dict[int, list[int]] = {}
        for pos, i in enumerate(idx):
            if pos % late_every == late_every - 1 and pos + LATE_BY < self.samples:
                held.setdefault(pos + LATE_BY, []).append(i)
            else:
                out.append(i)
            out += held.pop(pos, [])
            if pos % DUP_EVERY == 0:
                out.append(i)
        for rest in held.values():
            out += rest
        return out

    def run(self) -> None:
        start = time.monotonic()
        for n, i in enumerate(self.order()):
            if self.rate > 0:
                ahead = start + n * self.streams / self.rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
            for k in range(self.streams):
                topic = f"plant/IMM-B{k}/MELT-TEMP"
                body = orjson.dumps({"value": value(i, self.period, k), "seq": i,
                                     "time": T0_MS + 30 * 60_000 + i * STEP_MS, "unit": "Cel"})
                self.sent.append(((k, i), self.pub.publish(topic, i, body)))
            self.progress = n
        deadline = time.monotonic() + 600  # until tracegraph confirmed every sample committed
        while time.monotonic() < deadline and self.pub.pending:
            time.sleep(0.2)
        self.done.set()

    def acknowledged(self) -> set[tuple[int, int]]:
        return {key for key, info in self.sent if _acked(info)}

    def planted(self) -> int:
        runs = 0
        for k in range(self.streams):
            xs = [value(i, self.period, k) > 250 for i in range(self.samples)]
            runs += sum(1 for i, x in enumerate(xs) if x and (i == 0 or not xs[i - 1]))
        return runs


def _acked(info: mqtt.MQTTMessageInfo) -> bool:
    """PUBACK received (a message published while disconnected has rc NO_CONN but is queued
    by paho and sent on reconnect; ``is_published`` raises for it)."""
    return bool(info._published)


def _stored(raw: Path) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for f in raw.glob("*.sqlite"):
        con = sqlite3.connect(f"file:{f}?mode=ro", uri=True, timeout=10)
        try:
            for eq, t in con.execute("SELECT equipment, t_ms FROM samples"):
                out.add((int(eq.removeprefix("IMM-B")),
                         (t - T0_MS - 30 * 60_000) // STEP_MS))
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    return out


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run(root: Path, streams: int = 4, samples: int = 1500, period: int = 400,
        rate: float = 600.0, kills: int = 3, broker_restarts: int = 2,
        log: Any = None, settle: float = 300, late: bool = True,
        broker_kill9: bool = True) -> Figures:
    """One fault run in ``root``; returns the figures (see the module). ``late=False``: no
    late or swapped samples; ``broker_kill9=False``: graceful broker restarts only."""
    binary = mosquitto_binary()
    if binary is None:
        raise RuntimeError("mosquitto not installed (make system-deps)")
    data = root / "data"
    rt = Runtime.open(Settings(data_dir=data))
    rt.capture(plant(), migration=PLANT_MIGRATION)
    doc, tags = presses(streams)
    rt.capture(doc, migration=PLANT_MIGRATION)
    rt.close()
    (root / "tags.json").write_bytes(orjson.dumps(tags))
    broker = Broker(binary, root / "broker")
    broker.start()
    qc = Webhook()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded",
           "PYTHONPATH": str(ROOT)}

    def consumer() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "tracegraph.cli", "signals", "mqtt", "--tags",
             str(root / "tags.json"), "--port", str(broker.port), "--client-id", "tg-faults",
             "--topic", "plant/#", "--webhook", qc.url], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=(root / "consumer.log").open("ab"))

    fig = Figures()
    proc = consumer()
    t0 = time.monotonic()

    def sample_rss() -> None:
        mb = _rss_mb(proc.pid)
        if mb:  # (not while a restarted consumer is still starting)
            fig.rss_mb.append((time.monotonic() - t0, mb))

    try:
        _wait(lambda: (root / "data" / "signals" / "loop-state.db").exists(), 60)
        time.sleep(1.0)  # subscribed (persistent session from here on)
        edge = _Edge(broker, streams, samples, period, rate, late)
        fig.late = late
        pub = threading.Thread(target=edge.run, daemon=True)
        pub.start()
        faults = ["kill"] * kills + [("graceful", "kill9")[i % 2 if broker_kill9 else 0]
                                     for i in range(broker_restarts)]
        faults.sort(key=lambda f: 0 if f == "kill" else 1)
        spread = [faults[i] for i in sorted(range(len(faults)), key=lambda i: (i * 7919) % len(
            faults))]
        total = len(edge.order())
        for n, fault in enumerate(spread, start=1):
            _wait(lambda n=n: edge.progress >= total * n / (len(spread) + 1), 600,
                  sample=sample_rss)
            if fault == "kill":
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                fig.consumer_kills += 1
                proc = consumer()
            else:
                if fault == "graceful":
                    broker.stop()
                    fig.broker_restarts += 1
                else:
                    broker.kill()
                    fig.broker_kills += 1
                broker.start()
            if log:
                log(f"  fault {n}/{len(spread)}: {fault} at {edge.progress}/{total}")
        _wait(edge.done.is_set, 900, sample=sample_rss)
        acked = edge.acknowledged()
        raw = data / "signals"
        with contextlib.suppress(TimeoutError):  # reported below as not stored
            _wait(lambda: acked <= _stored(raw), settle)
        time.sleep(1.0)
        sample_rss()
        fig.edge_resent, fig.edge_pending = edge.pub.resent, edge.pub.pending
        edge.pub.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        broker.stop()
    stored = _stored(data / "signals")
    fig.acknowledged, fig.stored = len(acked), len(stored)
    fig.acknowledged_missing = len(acked - stored)
    fig.planted = edge.planted()
    rt = Runtime.open(Settings(data_dir=data))
    try:
        counts = rt.store.counts()
        fig.excursions = sum(1 for n in rt.store.nodes_of_class("Excursion")
                             if n.props.get("excursionLevel") != "spcRule")
        fig.spc_warnings = counts.get("Excursion", 0) - fig.excursions
        fig.deviations, fig.holds = counts.get("Deviation", 0), counts.get("Hold", 0)
        devs = {n.iri for n in rt.store.nodes_of_class("Deviation")}
    finally:
        rt.close()
    rp = replay(data / "signals", root / "replay", streams)
    fig.spc_replay, fig.excursions_replay = rp.spc_warnings, rp.excursions
    fig.subgroups = (rp.samples - 5 * fig.planted) // 5
    fig.notified = len(qc.bodies)
    fig.notified_unique = len({b["id"] for b in qc.bodies})
    fig.deviations_notified = len({b["deviation"] for b in qc.bodies} & devs)
    qc.close()
    return fig


def _wait(cond: Any, timeout: float, sample: Any = None) -> None:
    deadline = time.monotonic() + timeout
    last = 0.0
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("fault run stalled")
        if sample is not None and time.monotonic() - last >= 1.0:
            sample()
            last = time.monotonic()
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=10)
    ap.add_argument("--samples", type=int, default=6000, help="per stream")
    ap.add_argument("--period", type=int, default=400, help="samples between excursions")
    ap.add_argument("--rate", type=float, default=1000, help="paced samples/s (all streams)")
    ap.add_argument("--settle", type=float, default=900,
                    help="seconds to wait for the consumer to store every acknowledged sample")
    ap.add_argument("--kills", type=int, default=20, help="consumer kill -9s")
    ap.add_argument("--broker-restarts", type=int, default=10,
                    help="broker restarts (alternately graceful and kill -9)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tg-faults-") as tmp:
        t = time.monotonic()
        fig = run(Path(tmp), a.streams, a.samples, a.period, a.rate, a.kills,
                  a.broker_restarts, log=print, settle=a.settle)
        print(f"{a.streams} streams x {a.samples} samples at {a.rate:g}/s paced, "
              f"{time.monotonic() - t:.0f} s")
        for line in fig.lines():
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

