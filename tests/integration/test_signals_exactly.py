"""Issue 17, first part: the exception loop neither loses nor doubles an exception across
restarts, crashes between the raw commit and the findings commit, late and out-of-order samples;
QC notifications come from the committed records (at least once, one id each); SPC limits come
from completed, in-control history; memory stays bounded. (The broker faults are in
test_signals_faults.py, against a real Mosquitto.)"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from bench.signal_plant import TAGS, TOPIC, plant, signal
from ingest.signals.model import Observation, TagMap
from ingest.signals.pipeline import SignalPipeline
from ingest.signals.rawstore import RawStore
from ontology.datatypes import ms_to_text
from quality.notify import Notification
from tests.conftest import ROOT, migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

IMM02 = {"address": "plant/IMM-02/MELT-TEMP", "equipment": "IMM-02", "parameter": "MELT-TEMP",
         "unit": "Cel"}


class Crash(BaseException):
    """A process dying mid-batch (not an error the pipeline may catch)."""


def _pipe(rt: Runtime, raw: Path, sink: list[Notification], **kw: object) -> SignalPipeline:
    tags = TagMap.model_validate({"tags": [*TAGS["tags"], IMM02]})
    return SignalPipeline(rt, tags, RawStore(raw), publishers=[sink.append], **kw)  # type: ignore[arg-type]  # test options


def _obs(p: SignalPipeline, values: list[tuple[int, float]], topic: str = TOPIC
         ) -> list[Observation]:
    out = [p.observation(topic, v, t, sequence=i) for i, (t, v) in enumerate(values)]
    return [o for o in out if o is not None]


def _long_excursion(n: int = 900, start: int = 300, length: int = 400) -> list[tuple[int, float]]:
    base = signal("noisy", n=n)
    clean = signal("excursion", n=n)  # in spec outside 300..320
    return [(t, 256.0 if start <= i < start + length else (clean[i][1] if not 300 <= i < 320
                                                               else 230.0))
            for i, (t, _v) in enumerate(base)]


def _count(rt: Runtime, label: str) -> int:
    return rt.store.counts().get(label, 0)


def _feed(p: SignalPipeline, obs: list[Observation], size: int = 50) -> None:
    for i in range(0, len(obs), size):
        p.process(obs[i:i + size])


def _deviations(sink: list[Notification]) -> set[str]:
    return {n.deviation for n in sink if n.deviation}


@pytest.fixture
def rt(runtime: Runtime) -> Runtime:
    migrate(runtime, plant())
    return runtime


@pytest.mark.req("URS-EXC-01")
def test_restart_inside_a_long_excursion_writes_no_second_deviation(
        rt: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipe(rt, tmp_path / "raw", sink)
    obs = _obs(p, _long_excursion())
    _feed(p, obs[:650])  # 350 samples into a 400-sample excursion
    p2 = _pipe(rt, tmp_path / "raw", sink)  # restart
    p2.warm_up()
    _feed(p2, obs[600:])  # the broker re-delivers the unacknowledged tail, then the rest
    assert _count(rt, "Deviation") == 1 and _count(rt, "Hold") == 1
    assert _count(rt, "Excursion") == 1 and len(_deviations(sink)) == 1


@pytest.mark.req("URS-EXC-01")
def test_a_crash_between_raw_and_findings_commit_loses_no_deviation(
        rt: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink: list[Notification] = []
    p = _pipe(rt, tmp_path / "raw", sink)
    obs = _obs(p, signal("excursion", n=900))

    def crash(*_a: object, **_k: object) -> None:
        raise Crash

    monkeypatch.setattr("ingest.signals.pipeline.record_finding", crash)
    with pytest.raises(Crash):
        p.process(obs[:700])  # raw committed, the findings never
    monkeypatch.undo()
    assert p.raw.count() == 700 and _count(rt, "Deviation") == 0
    p2 = _pipe(rt, tmp_path / "raw", sink)  # restart: the excursion is 400 samples back
    p2.warm_up()
    _feed(p2, obs)  # everything re-delivered, and the rest
    assert _count(rt, "Deviation") == 1 and _count(rt, "Hold") == 1
    assert len(_deviations(sink)) == 1  # the deviation found at warm-up reached QC


def test_late_and_out_of_order_samples_are_stored_and_evaluated(
        rt: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipe(rt, tmp_path / "raw", sink)
    obs = _obs(p, signal("excursion", n=900))
    late = obs[300:320]  # the whole excursion arrives 280 samples late, reversed
    _feed(p, obs[:300] + obs[320:600])
    assert _count(rt, "Deviation") == 0
    p.process(late[::-1])
    assert p.raw.count() == 600
    assert _count(rt, "Deviation") == 1 and len(_deviations(sink)) == 1
    # an episode first seen without its first samples keeps one identity when they arrive
    q = _obs(p, _long_excursion(start=700, length=30))
    missing = q[700:703]
    _feed(p, [o for o in q[600:800] if o not in missing])
    p.process(missing)
    _feed(p, q[800:])
    assert _count(rt, "Deviation") == 2 and _count(rt, "Hold") == 2
    assert len(_deviations(sink)) == 2


@pytest.mark.req("URS-EXC-01")
def test_a_failed_notification_is_delivered_later_once_per_id(
        rt: Runtime, tmp_path: Path) -> None:
    got: list[Notification] = []
    fail = [True]

    def flaky(n: Notification) -> None:
        if fail[0]:
            raise ConnectionError("QC receiver down")
        got.append(n)

    p = _pipe(rt, tmp_path / "raw", [])
    p.publishers = [flaky]
    obs = _obs(p, signal("excursion", n=900))
    _feed(p, obs[:600])
    assert _count(rt, "Deviation") == 1 and got == []
    fail[0] = False
    p2 = _pipe(rt, tmp_path / "raw", [])  # restart: the outbox still has it
    p2.publishers = [flaky]
    p2.warm_up()
    _feed(p2, obs[600:])
    assert [n.kind for n in got] == ["deviation"] and got[0].id
    p3 = _pipe(rt, tmp_path / "raw", [])
    p3.publishers = [flaky]
    p3.warm_up()
    assert len(got) == 1  # delivered and marked: not sent again


def test_no_spc_warning_on_in_spec_data_after_a_restart(rt: Runtime, tmp_path: Path) -> None:
    sink: list[Notification] = []
    p = _pipe(rt, tmp_path / "raw", sink)
    # IMM-02 (batch B-OTHER, same spec, still running) has a long excursion; its in-progress
    # aggregate includes it
    _feed(p, _obs(p, _long_excursion(), "plant/IMM-02/MELT-TEMP"))
    p.flush()
    spc_before = [n for n in sink if n.kind == "spcWarning"]
    p2 = _pipe(rt, tmp_path / "raw", sink)
    p2.warm_up()
    _feed(p2, _obs(p2, signal("noisy", n=600)[:40] + signal("excursion", n=600)[40:290]))
    assert [n for n in sink if n.kind == "spcWarning"] == spc_before


def test_pipeline_memory_is_bounded(rt: Runtime, tmp_path: Path) -> None:
    p = _pipe(rt, tmp_path / "raw", [], keep_records=5)
    values = [(t, 256.0 if i % 40 < 5 else v) for i, (t, v) in
              enumerate(signal("excursion", n=600))]
    _feed(p, _obs(p, values))
    assert _count(rt, "Deviation") >= 10
    assert len(p.records) == 5


@pytest.mark.req("URS-EXC-01")
def test_replaying_the_same_csv_three_times_gives_one_deviation(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rt = Runtime.open(Settings(data_dir=data))
    migrate(rt, plant())
    rt.close()
    tags = tmp_path / "tags.json"
    tags.write_text(orjson.dumps(TAGS).decode())
    f = tmp_path / "history.csv"
    with f.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["address", "time", "value", "quality", "seq", "unit"])
        # the file ends inside an excursion: a restart's warm-up window starts inside it
        for i, (ms, v) in enumerate(_long_excursion(n=600, start=300, length=300)):
            w.writerow([TOPIC, ms_to_text(ms), repr(v), "good", i, "Cel"])
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"}
    for _ in range(3):
        subprocess.run([sys.executable, "-m", "tracegraph.cli", "signals", "replay", "--tags",
                        str(tags), str(f)], env=env, cwd=ROOT, check=True, capture_output=True,
                       timeout=120)
    rt = Runtime.open(Settings(data_dir=data))
    try:
        assert _count(rt, "Deviation") == 1 and _count(rt, "Hold") == 1
    finally:
        rt.close()
