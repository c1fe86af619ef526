"""Worklists on both engines: every filter, order and page of each list equals a plain-Python
computation over the records this fixture wrote (random states, grades, dates, owners and
links, seeded); a cursor keeps its place when records are added before it; a bad cursor, sort
field or filter value is refused naming the argument; a batch awaiting release counts exactly
the exceptions its release report lists; "my work" selects what each role may act on."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from graph.authority import Migration
from quality import my_work as M
from quality import worklists as W
from quality.paging import Page, Sort, WorklistError
from quality.release import release_report
from tests import plantlet
from tests.conftest import ENGINES, engine_store, make_user, migrate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
OWNERS = ("u.ann", "u.bob", "u.cho")
DEV_STATES = ("Open", "Triaged", "Investigation", "CAPALinked", "EffectivenessVerified",
              "Closed", "Archived")
GRADES = ("minor", "major", "critical")
CONCERNABLE = ("Batch/B-ASSY", "Batch/B-MOULD", "MaterialLot/RL-PP", "MaterialLot/RL-TUBE",
               "SerializedUnit/SN-1")
MADE_OF = {"Batch/B-ASSY": "CATH-14G", "Batch/B-MOULD": "CONN-LL",
           "MaterialLot/RL-PP": "PP-H350", "MaterialLot/RL-TUBE": "PVC-TUBE",
           "SerializedUnit/SN-1": "CATH-14G"}
HOLDABLE = ("Batch/B-ASSY", "Batch/B-MOULD", "MaterialLot/RL-PP", "MaterialLot/RL-TUBE")
BATCH_STATUSES = ("Planned", "InProcess", "Completed", "OnHold", "Released", "Rejected")


def t(days: float) -> str:
    """A UTC time ``days`` before NOW, as the stores keep it."""
    return (NOW - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def d(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


@dataclass
class Fixture:
    """What the fixture wrote, as plain records: ``class/key`` → properties (+ links)."""

    recs: dict[str, dict[str, Any]] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)

    def of(self, cls: str) -> dict[str, dict[str, Any]]:
        return {k.split("/", 1)[1]: v for k, v in self.recs.items() if k.startswith(cls + "/")}


def node(cls: str, key: str, props: dict[str, Any], links: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    return {"class": cls, "key": key, "properties": props, "links": links or {}}


def build(rt: Runtime) -> Fixture:
    rng = random.Random(15)
    fx = Fixture()
    extra = [node("Equipment", "IMM-02", {"name": "Moulding press 2"},
                  {"ofEquipmentClass": "EquipmentClass/IMM"}),
             node("Operation", "CONN-MOULD/v1/OP10", {"name": "Moulding", "sequence": 10}),
             node("ParameterSpec", "MOULD/TEMP", {"name": "melt temperature", "unitCode": "Cel",
                                                  "lsl": 1.0, "usl": 5.0, "isCPP": True},
                  {"specOf": ["Operation/CONN-MOULD/v1/OP10"]})]
    extra += [node("OperationExecution", f"OE-{q}", {
        "startedAtTime": t(70), "endedAtTime": t(69.9), "executionStatus": "Completed"},
        {"onEquipment": [f"Equipment/{q}"], "forBatch": ["Batch/B-MOULD"],
         "executesOperation": ["Operation/CONN-MOULD/v1/OP10"]})
        for q in ("IMM-01", "IMM-02")]
    migrate(rt, {"format": "tracegraph.capture/1",
                 "events": [{"eventId": "wl-equipment", "reason": "fixture", "nodes": extra}]})
    nodes: dict[str, list[dict[str, Any]]] = {o: [] for o in OWNERS}
    # excursions and alarms
    exc_nodes = []
    for i in range(14):
        key = f"EXC-T-{i:02d}"
        p = {"excursionLevel": rng.choice(("alert", "action", "outOfSpec", "spcRule")),
             "detectedAt": t(rng.uniform(0, 60)), "peakValue": round(rng.uniform(1, 9), 2),
             "limitValue": 5.0}
        eq = rng.choice(("IMM-01", "IMM-02", None))
        exc_nodes.append(node("Excursion", key, p, {
            "violatesSpec": ["ParameterSpec/MOULD/TEMP"],
            **({"duringExecution": [f"OperationExecution/OE-{eq}"]} if eq else {})}))
        fx.recs[f"Excursion/{key}"] = {**p, "_eq": eq}
    for i in range(12):
        key = f"ALM-T-{i:02d}"
        p = {"alarmState": rng.choice(("Active", "Acknowledged", "Cleared")),
             "alarmPriority": rng.choice(("low", "medium", "high", "critical")),
             "openedAt": t(rng.uniform(0, 60))}
        exc = f"EXC-T-{i:02d}"
        exc_nodes.append(node("Alarm", key, p, {"raisedBy": [f"Excursion/{exc}"]}))
        fx.recs[f"Alarm/{key}"] = {**p, "_exc": exc}
    migrate(rt, {"format": "tracegraph.capture/1",
                 "events": [{"eventId": "wl-signals", "reason": "fixture", "nodes": exc_nodes}]})
    # deviations, by owner (the opener is the actor who wrote them)
    for i in range(40):
        key = f"DEV-T-{i:02d}"
        owner = OWNERS[i % 3]
        p: dict[str, Any] = {"title": f"deviation {i}", "description": "fixture",
                             "deviationState": rng.choice(DEV_STATES),
                             "deviationGrade": rng.choice(GRADES),
                             "openedAt": t(rng.choice((0.5, 3, 8, 15, 31, 45, 90)) + i / 100)}
        if rng.random() < 0.6:
            p["dueDate"] = d(rng.randint(-20, 40))
        concerns = rng.sample(CONCERNABLE, rng.randint(0, 2))
        links: dict[str, Any] = {"concerns": concerns}
        raised = None
        if rng.random() < 0.3:
            raised = rng.choice([f"Alarm/ALM-T-{j:02d}" for j in range(12)]
                                + [f"Excursion/EXC-T-{j:02d}" for j in range(12, 14)])
            links["raisedBy"] = [raised]
        nodes[owner].append(node("Deviation", key, p, links))
        fx.recs[f"Deviation/{key}"] = {**p, "_concerns": concerns, "_raised": raised}
        fx.owner[key] = owner
    for o in OWNERS:
        rt.capture({"format": "tracegraph.capture/1", "events": [
            {"eventId": f"wl-dev-{o}", "reason": "fixture", "nodes": nodes[o]}]},
            migration=Migration(o, "worklist fixture"))
    # holds, CAPAs, actions, change requests, batches
    rest = []
    for i in range(15):
        key = f"HLD-T-{i:02d}"
        p = {"holdState": rng.choice(("Active", "Released", "Dispositioned")),
             "openedAt": t(rng.uniform(0, 50)), "description": "fixture"}
        held = rng.sample(HOLDABLE, rng.randint(1, 2))
        dev = f"DEV-T-{rng.randrange(40):02d}"
        rest.append(node("Hold", key, p, {"holds": held, "raisedBy": [f"Deviation/{dev}"]}))
        fx.recs[f"Hold/{key}"] = {**p, "_held": held, "_dev": dev}
    for i in range(9):
        key = f"CAPA-T-{i:02d}"
        p = {"title": f"capa {i}", "description": "fixture",
             "capaState": rng.choice(("Open", "Investigation", "ActionPlanned", "Implementation",
                                      "EffectivenessCheck", "Closed", "Cancelled")),
             "openedAt": t(rng.uniform(10, 80)), "dueDate": d(rng.randint(-30, 30))}
        rest.append(node("CAPA", key, p, {"raisedBy": [f"Deviation/DEV-T-{i:02d}"]}))
        fx.recs[f"CAPA/{key}"] = p
    for i in range(24):
        key = f"ACT-T-{i:02d}"
        p = {"actionState": rng.choice(("Planned", "InProgress", "Completed", "Cancelled")),
             "actionType": rng.choice(("correction", "corrective", "preventive")),
             "dueDate": d(rng.randint(-20, 20)), "description": "fixture"}
        capa, owner = f"CAPA-T-{i % 9:02d}", OWNERS[rng.randrange(3)]
        rest.append(node("CAPAAction", key, p, {"actionOf": [f"CAPA/{capa}"],
                                                "assignedTo": [f"User/{owner}"]}))
        fx.recs[f"CAPAAction/{key}"] = {**p, "_capa": capa, "_owner": owner}
    for i in range(8):
        key = f"CR-T-{i:02d}"
        p = {"title": f"change {i}", "description": "fixture", "changeType": "document",
             "changeState": rng.choice(("Draft", "Submitted", "ImpactAssessed", "Approved",
                                        "Rejected")), "openedAt": t(rng.uniform(0, 90))}
        rest.append(node("ChangeRequest", key, p))
        approved = rng.sample(("engineer", "qa"), rng.randint(0, 2))
        for r in approved:
            rest.append(node("Approval", f"{key}-A-{r}", {
                "approvalDecision": "approved", "decidedAt": t(1)},
                {"approves": [f"ChangeRequest/{key}"], "inRole": [f"Role/{r}"],
                 "wasAssociatedWith": ["User/u.qa" if r == "qa" else "User/u.ann"]}))
        fx.recs[f"ChangeRequest/{key}"] = {**p, "_approved": approved}
    for i in range(16):
        key = f"B-T-{i:02d}"
        prod = rng.choice(("CATH-14G", "CONN-LL"))
        p = {"batchStatus": rng.choice(BATCH_STATUSES), "quantity": 10, "unitCode": "{pc}",
             "manufacturedAt": t(rng.uniform(0, 40))}
        rest.append(node("Batch", key, p, {
            "ofProduct": [f"Product/{prod}"],
            "runsProcessVersion": ["ProcessVersion/" + ("CATH-ASSY/v1" if prod == "CATH-14G"
                                                        else "CONN-MOULD/v1")]}))
        fx.recs[f"Batch/{key}"] = {**p, "_product": prod}
    migrate(rt, {"format": "tracegraph.capture/1",
                 "events": [{"eventId": "wl-rest", "reason": "fixture", "nodes": rest}]})
    for k in ("B-MOULD", "B-ASSY"):
        n = rt.store.get(rt.vocab.mint_iri("Batch", k))
        assert n is not None
        fx.recs[f"Batch/{k}"] = {"batchStatus": n.props["batchStatus"],
                                 "_product": MADE_OF[f"Batch/{k}"]}
    return fx


@pytest.fixture(params=ENGINES)
def plant(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, Fixture]]:
    rt = Runtime.open(Settings(data_dir=tmp_path),
                      store=engine_store(request, tmp_path / "s.sqlite"))
    rt.clock = lambda: NOW
    plantlet.load(rt)
    for u in OWNERS:
        make_user(rt, u, ["engineer"])
    make_user(rt, "u.qa", ["qa"])
    make_user(rt, "u.qc", ["qc"])
    make_user(rt, "u.aud", ["auditor"])
    yield rt, build(rt)
    if request.param == "embedded":
        rt.store.close()



# ---- the independent computation ---------------------------------------------------------------


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def expected_order(rt: Runtime, cls: str, values: dict[str, Any], desc: bool) -> list[str]:
    """Keys in the list's documented order: by value (descending if asked), rows without a
    value last, ties by IRI ascending."""
    def iri(k: str) -> str:
        return rt.vocab.mint_iri(cls, k)

    def cmp(a: str, b: str) -> int:
        va, vb = values[a], values[b]
        if va != vb:
            return (-1 if va < vb else 1) * (-1 if desc else 1)
        return (iri(a) > iri(b)) - (iri(a) < iri(b))

    present = sorted((k for k, v in values.items() if v is not None), key=functools.cmp_to_key(cmp))
    return present + sorted((k for k, v in values.items() if v is None), key=iri)


def walk_pages(rt: Runtime, call: Callable[..., Page[Any]], size: int, **kw: Any
               ) -> tuple[list[Any], int]:
    """Every row, following endCursor page by page."""
    rows: list[Any] = []
    after, totals = None, set()
    for _ in range(200):
        p = call(rt, first=size, after=after, **kw)
        assert len(p.rows) <= size and len(p.cursors) == len(p.rows)
        assert p.has_previous == (after is not None)
        totals.add(p.total)
        rows += p.rows
        if not p.has_next:
            break
        assert p.end_cursor == p.cursors[-1]
        after = p.end_cursor
    assert len(totals) == 1
    return rows, totals.pop()


def check(rt: Runtime, call: Callable[..., Page[Any]], cls: str, chosen: dict[str, Any],
          sort_value: Callable[[str, dict[str, Any]], Any], desc: bool, size: int = 4,
          **kw: Any) -> list[Any]:
    rows, total = walk_pages(rt, call, size, **kw)
    want = expected_order(rt, cls, {k: sort_value(k, v) for k, v in chosen.items()}, desc)
    assert [r.key for r in rows] == want, kw
    assert total == len(want)
    return rows


OPEN = {"Open", "Triaged", "Investigation", "CAPALinked", "EffectivenessVerified"}
GRADE_RANK = {"minor": 1, "major": 2, "critical": 3}


def dev_equipment(fx: Fixture, v: dict[str, Any]) -> set[str]:
    raised = v["_raised"]
    if raised is None:
        return set()
    cls, key = raised.split("/", 1)
    exc = fx.recs[f"Alarm/{key}"]["_exc"] if cls == "Alarm" else key
    eq = fx.recs[f"Excursion/{exc}"]["_eq"]
    return {eq} if eq else set()


def dev_products(v: dict[str, Any]) -> set[str]:
    return {MADE_OF[c] for c in v["_concerns"]}


def test_deviations_filter_sort_and_page_like_the_records(plant: tuple[Runtime, Fixture]) -> None:
    rt, fx = plant
    devs = fx.of("Deviation")
    age = {k: (NOW - when(v["openedAt"])).days for k, v in devs.items()}
    opened = lambda k, v: v["openedAt"]  # noqa: E731
    rows = check(rt, W.deviations, "Deviation", devs, opened, True)
    for r in rows:
        v = devs[r.key]
        assert r.owner == fx.owner[r.key]
        assert r.age_days == age[r.key]
        assert set(r.equipment) == dev_equipment(fx, v)
        assert set(r.products) == dev_products(v)
        assert r.is_open == (v["deviationState"] in OPEN)
        assert r.overdue == (r.is_open and "dueDate" in v and v["dueDate"] < TODAY.isoformat())
    cases: list[tuple[dict[str, Any], Callable[[str, dict[str, Any]], bool], str, bool]] = [
        ({"states": ["Open", "Triaged"]}, lambda k, v: v["deviationState"] in ("Open", "Triaged"),
         "grade", True),
        ({"grades": ["critical"], "open_only": True},
         lambda k, v: v["deviationGrade"] == "critical" and v["deviationState"] in OPEN, "key",
         False),
        ({"min_age_days": 7, "max_age_days": 40}, lambda k, v: 7 <= age[k] <= 40, "dueDate",
         False),
        ({"owner": "u.bob"}, lambda k, v: fx.owner[k] == "u.bob", "state", True),
        ({"equipment": "IMM-02"}, lambda k, v: "IMM-02" in dev_equipment(fx, v), "openedAt",
         False),
        ({"product": "CATH-14G"}, lambda k, v: "CATH-14G" in dev_products(v), "openedAt", True),
        ({"product": "PP-H350", "grades": ["major", "minor"]},
         lambda k, v: "PP-H350" in dev_products(v) and v["deviationGrade"] != "critical",
         "key", True),
    ]
    values = {"grade": lambda k, v: GRADE_RANK[v["deviationGrade"]],
              "key": lambda k, v: k, "dueDate": lambda k, v: v.get("dueDate"),
              "state": lambda k, v: v["deviationState"], "openedAt": opened}
    for kw, keep, field_, desc in cases:
        chosen = {k: v for k, v in devs.items() if keep(k, v)}
        assert chosen, kw  # each case selects something
        check(rt, W.deviations, "Deviation", chosen, values[field_], desc, 3,
              sort=Sort(field_, desc), **kw)


def test_holds_capas_and_actions_like_the_records(plant: tuple[Runtime, Fixture]) -> None:
    rt, fx = plant
    holds = fx.of("Hold")
    check(rt, W.holds, "Hold", holds, lambda k, v: v["openedAt"], True)
    since = NOW - timedelta(days=20)
    for kw, keep in (
            ({"states": ["Active"]}, lambda v: v["holdState"] == "Active"),
            ({"held": "RL-PP"}, lambda v: "MaterialLot/RL-PP" in v["_held"]),
            ({"held_class": "Batch", "active_only": True},
             lambda v: any(h.startswith("Batch/") for h in v["_held"])
             and v["holdState"] == "Active"),
            ({"since": since.isoformat()}, lambda v: when(v["openedAt"]) >= since)):
        chosen = {k: v for k, v in holds.items() if keep(v)}
        rows = check(rt, W.holds, "Hold", chosen, lambda k, v: k, False, 3,
                     sort=Sort("key"), **kw)
        for r in rows:
            assert set(r.held) == {h.split("/", 1)[1] for h in holds[r.key]["_held"]}
            assert r.deviations == [holds[r.key]["_dev"]]
    capas, acts = fx.of("CAPA"), fx.of("CAPAAction")
    closed = {"Closed", "Cancelled"}
    done = {"Completed", "Cancelled"}
    late = {k: v["dueDate"] < TODAY.isoformat() and v["capaState"] not in closed
            for k, v in capas.items()}
    rows = check(rt, W.capas, "CAPA", capas, lambda k, v: v["dueDate"], False)
    for r in rows:
        mine = [a for a in acts.values() if a["_capa"] == r.key and a["actionState"] not in done]
        assert r.overdue == late[r.key]
        assert r.open_actions == len(mine)
        assert r.overdue_actions == sum(a["dueDate"] < TODAY.isoformat() for a in mine)
    check(rt, W.capas, "CAPA", {k: v for k, v in capas.items() if late[k]},
          lambda k, v: v["openedAt"], True, 2, overdue=True, sort=Sort("openedAt", True))
    cut = (TODAY + timedelta(days=5)).isoformat()
    check(rt, W.capas, "CAPA", {k: v for k, v in capas.items() if v["dueDate"] < cut
                                and v["capaState"] not in closed},
          lambda k, v: v["dueDate"], False, 2, due_before=cut, open_only=True)
    a_late = {k: v["dueDate"] < TODAY.isoformat() and v["actionState"] not in done
              for k, v in acts.items()}
    for kw, keep in (
            ({}, lambda k, v: True),
            ({"owner": "u.ann"}, lambda k, v: v["_owner"] == "u.ann"),
            ({"overdue": True}, lambda k, v: a_late[k]),
            ({"overdue": False, "capa": "CAPA-T-03"},
             lambda k, v: not a_late[k] and v["_capa"] == "CAPA-T-03"),
            ({"states": ["Planned", "InProgress"], "owner": "u.cho"},
             lambda k, v: v["actionState"] in ("Planned", "InProgress")
             and v["_owner"] == "u.cho")):
        chosen = {k: v for k, v in acts.items() if keep(k, v)}
        rows = check(rt, W.actions, "CAPAAction", chosen, lambda k, v: v["dueDate"], False, 3,
                     **kw)
        for r in rows:
            assert (r.owner, r.capa, r.overdue) == (acts[r.key]["_owner"], acts[r.key]["_capa"],
                                                    a_late[r.key])
            assert r.days_overdue == ((TODAY - date.fromisoformat(acts[r.key]["dueDate"])).days
                                      if a_late[r.key] else None)


def test_change_requests_batches_excursions_and_alarms_like_the_records(
        plant: tuple[Runtime, Fixture]) -> None:
    rt, fx = plant
    crs = fx.of("ChangeRequest")
    awaiting = {k: sorted({"engineer", "qa"} - set(v["_approved"]))
                if v["changeState"] in ("Submitted", "ImpactAssessed") else []
                for k, v in crs.items()}
    rows = check(rt, W.change_requests, "ChangeRequest", crs, lambda k, v: v["openedAt"], True)
    assert {r.key: r.awaiting for r in rows} == awaiting
    check(rt, W.change_requests, "ChangeRequest", {k: v for k, v in crs.items()
                                                   if "qa" in awaiting[k]},
          lambda k, v: k, False, 2, awaiting_role="qa", sort=Sort("key"))
    batches = fx.of("Batch")
    made = lambda k, v: v.get("manufacturedAt")  # noqa: E731
    check(rt, W.batches, "Batch", batches, made, True)
    waiting = {k: v for k, v in batches.items() if v["batchStatus"] in ("Completed", "OnHold")}
    rows = check(rt, W.batches, "Batch", waiting, made, True, 3, awaiting_release=True)
    for r in rows:  # the release report's exceptions, counted as it lists them
        assert r.exception_count == len(release_report(rt, r.iri).exceptions)
    assert any(r.exception_count for r in rows)  # B-MOULD: its excursions have no deviation
    check(rt, W.batches, "Batch", {k: v for k, v in batches.items()
                                   if v["_product"] == "CONN-LL"
                                   and v["batchStatus"] in ("Planned", "Released")},
          lambda k, v: v["batchStatus"], False, 2, product="CONN-LL",
          statuses=["Planned", "Released"], sort=Sort("status"))
    exc = fx.of("Excursion")
    since = NOW - timedelta(days=30)
    for kw, keep in (({}, lambda v: True),
                     ({"levels": ["alert", "action"]}, lambda v: v["excursionLevel"] in
                      ("alert", "action")),
                     ({"since": since.isoformat()}, lambda v: when(v["detectedAt"]) >= since),
                     ({"equipment": "IMM-01"}, lambda v: v["_eq"] == "IMM-01")):
        chosen = {k: v for k, v in exc.items() if keep(v)}
        rows = check(rt, W.excursions, "Excursion", chosen, lambda k, v: v["detectedAt"], True,
                     3, **kw)
        for r in rows:
            assert r.equipment == ([exc[r.key]["_eq"]] if exc[r.key]["_eq"] else [])
            alarms = {a for a, v in fx.of("Alarm").items() if v["_exc"] == r.key}
            assert set(r.deviations) == {
                k for k, v in fx.of("Deviation").items()
                if v["_raised"] in {f"Excursion/{r.key}", *(f"Alarm/{a}" for a in alarms)}}
    alarms = fx.of("Alarm")
    rank = {"low": 1, "medium": 2, "high": 3, "critical": 4}
    check(rt, W.alarms, "Alarm", alarms, lambda k, v: v["openedAt"], True)
    check(rt, W.alarms, "Alarm", {k: v for k, v in alarms.items()
                                  if v["alarmState"] != "Cleared"},
          lambda k, v: rank[v["alarmPriority"]], True, 2, states=["Active", "Acknowledged"],
          sort=Sort("priority", True))
    check(rt, W.alarms, "Alarm", {k: v for k, v in alarms.items()
                                  if v["alarmPriority"] in ("high", "critical")},
          lambda k, v: k, True, 5, priorities=["high", "critical"], sort=Sort("key", True))


def test_a_cursor_keeps_its_place_when_records_are_added(plant: tuple[Runtime, Fixture]) -> None:
    rt, fx = plant
    order = expected_order(rt, "Deviation", {k: k for k in fx.of("Deviation")}, False)
    first = W.deviations(rt, sort=Sort("key"), first=10)
    assert [r.key for r in first.rows] == order[:10]
    migrate(rt, {"format": "tracegraph.capture/1", "events": [{
        "eventId": "wl-late", "reason": "fixture", "nodes": [
            node("Deviation", k, {"title": k, "description": "late", "deviationState": "Open",
                                  "deviationGrade": "minor", "openedAt": t(0)})
            for k in ("DEV-T-00a", "DEV-T-15a", "DEV-T-99")]}]})
    nxt = W.deviations(rt, sort=Sort("key"), first=10, after=first.end_cursor)
    assert [r.key for r in nxt.rows] == ["DEV-T-10", "DEV-T-11", "DEV-T-12", "DEV-T-13",
                                         "DEV-T-14", "DEV-T-15", "DEV-T-15a", "DEV-T-16",
                                         "DEV-T-17", "DEV-T-18"]
    assert nxt.total == 43 and nxt.has_previous
    last = W.deviations(rt, sort=Sort("key", True), first=1)
    assert last.rows[0].key == "DEV-T-99"


BAD: list[tuple[Callable[..., Page[Any]], dict[str, Any], str]] = [
    (W.deviations, {"after": "not a cursor!"}, "after"),
    (W.deviations, {"after": "WyJrZXkiXQ"}, "after"),  # base64 of ["key"]: not a position
    (W.deviations, {"sort": Sort("title")}, "sortBy"),
    (W.deviations, {"states": ["Opened"]}, "state"),
    (W.deviations, {"grades": ["severe"]}, "grade"),
    (W.deviations, {"equipment": "NO-SUCH-TAG"}, "equipment"),
    (W.deviations, {"equipment": "B-ASSY"}, "equipment"),  # a batch is no equipment
    (W.deviations, {"min_age_days": -1}, "minAgeDays"),
    (W.deviations, {"first": 501}, "first"),
    (W.holds, {"since": "last week"}, "since"),
    (W.holds, {"held_class": "Customer"}, "heldClass"),
    (W.capas, {"due_before": "2026-13-01"}, "dueBefore"),
    (W.actions, {"capa": "CAPA-NONE"}, "capa"),
    (W.change_requests, {"awaiting_role": "operator"}, "awaitingRole"),
    (W.batches, {"statuses": ["Shipped"]}, "status"),
    (W.excursions, {"levels": ["high"]}, "level"),
    (W.alarms, {"priorities": ["urgent"]}, "priority"),
]


def test_bad_arguments_are_refused_naming_the_argument(plant: tuple[Runtime, Fixture]) -> None:
    rt, _ = plant
    for call, kw, field_ in BAD:
        with pytest.raises(WorklistError) as e:
            call(rt, **kw)
        assert e.value.field == field_ and e.value.rule, (kw, e.value)


def test_a_cursor_of_another_order_is_refused(plant: tuple[Runtime, Fixture]) -> None:
    rt, _ = plant
    p = W.deviations(rt, sort=Sort("key"), first=2)
    with pytest.raises(WorklistError, match="start from the first page") as e:
        W.deviations(rt, sort=Sort("openedAt"), first=2, after=p.end_cursor)
    assert e.value.field == "after"


def test_my_work_is_what_each_role_may_act_on(plant: tuple[Runtime, Fixture]) -> None:
    rt, fx = plant
    devs, holds, batches = fx.of("Deviation"), fx.of("Hold"), fx.of("Batch")
    # the lifecycle (quality/deviations.py): QC and QA triage; QC, QA and engineers
    # investigate; QC and QA link CAPAs; only QA verifies and closes
    may = {"qa": OPEN, "qc": {"Open", "Triaged", "Investigation"}, "engineer": {"Triaged"}}
    crs = fx.of("ChangeRequest")
    wait = {k for k, v in crs.items() if v["changeState"] in ("Submitted", "ImpactAssessed")}

    def totals(user: str, roles: set[str]) -> dict[str, int]:
        work = M.my_work(rt, user, frozenset(roles), first=3)
        assert all(len(s.items) == min(3, s.total) for s in work.sections)
        return {s.kind: s.total for s in work.sections}

    assert totals("u.qa", {"qa"}) == {
        "deviations": sum(v["deviationState"] in may["qa"] for v in devs.values()),
        "holds": sum(v["holdState"] == "Active" for v in holds.values()),
        "batches": sum(v["batchStatus"] in ("Completed", "OnHold") for v in batches.values()),
        "changes": sum("qa" not in crs[k]["_approved"] for k in wait), "lots": 0}
    assert totals("u.qc", {"qc"}) == {
        "deviations": sum(v["deviationState"] in may["qc"] for v in devs.values()),
        "alarms": sum(v["alarmState"] == "Active" for v in fx.of("Alarm").values()),
        "lots": 0}
    acts = fx.of("CAPAAction")
    assert totals("u.ann", {"engineer"}) == {
        "deviations": sum(v["deviationState"] in may["engineer"] for v in devs.values()),
        "changes": sum("engineer" not in crs[k]["_approved"] for k in wait),
        "actions": sum(v["_owner"] == "u.ann" and v["actionState"] in ("Planned", "InProgress")
                       for v in acts.values())}
    assert totals("u.aud", {"auditor"}) == {}
    assert totals("u.op", {"operator"}) == {}
    plant_counts = M.open_exceptions(rt)
    assert plant_counts.open_deviations == sum(v["deviationState"] in OPEN for v in devs.values())
    assert plant_counts.critical_deviations == sum(
        v["deviationState"] in OPEN and v["deviationGrade"] == "critical" for v in devs.values())
    assert plant_counts.changes_awaiting_approval == sum(
        1 for k in wait if {"engineer", "qa"} - set(crs[k]["_approved"]))
