"""The explorer page in headless Chromium against the demo plant: every number the page shows
is checked against an independent networkx computation over the demo's capture documents."""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import networkx as nx
import pytest

from bench.plant import generate_plant
from tests.browser.conftest import Demo, shot

pytestmark = pytest.mark.browser

DEMO_SEED = 7  # tracegraph.cli demo: generate_plant(size="demo", seed=7)


@dataclass
class Plant:
    """The demo plant as its capture documents say: derivations output → input, node props."""

    g: nx.DiGraph = field(default_factory=nx.DiGraph)
    props: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)

    def upstream(self, ref: str) -> set[str]:
        return {ref} | nx.descendants(self.g, ref)

    def downstream(self, ref: str) -> set[str]:
        return {ref} | nx.ancestors(self.g, ref)

    def neighbours(self, ref: str) -> set[str]:
        return set(self.g.successors(ref)) | set(self.g.predecessors(ref))


@functools.cache
def plant() -> Plant:
    p = Plant()
    for doc in generate_plant(size="demo", seed=DEMO_SEED):
        for ev in doc["events"]:
            for n in ev.get("nodes", ()):
                ref = f"{n['class']}/{n['key']}"
                p.props.setdefault(ref, {}).update(n.get("properties", {}))
                p.links.setdefault(ref, {}).update(n.get("links", {}))
            for d in ev.get("derivations", ()):
                p.g.add_edge(d["output"], d["input"])
    return p


def key(ref: str) -> str:
    return ref.split("/", 1)[1]


def node_count(page: Any) -> int:
    return int(page.get_attribute("#graph", "data-node-count") or -1)


def wait_count(page: Any, n: int) -> None:
    page.wait_for_function("n => document.getElementById('graph').dataset.nodeCount === String(n)",
                           arg=n)


def test_search_a_serial_expand_collapse_and_switch_to_downstream(page: Any) -> None:
    p = plant()
    units = sorted(r for r in p.g if r.startswith("SerializedUnit/")
                   and any(x.startswith("Shipment/") for x in p.downstream(r)))
    unit = units[len(units) // 2]
    up = p.upstream(unit)

    page.fill("#search-text", key(unit))
    page.click("#search button[type=submit]")
    wait_count(page, len(up))
    assert page.locator("#node-list tbody tr").count() == len(up)
    assert f"{len(up)} nodes" in page.inner_text("#trace-summary")
    assert set(page.locator("#node-list tbody tr").evaluate_all(
        "rows => rows.map(r => r.dataset.key)")) == {key(r) for r in up}
    shot(page, "1-upstream")

    # expand a supplier lot: the batches it went into join the picture
    lot = next(r for r in sorted(up) if r.startswith("MaterialLot/")
               and 0 < len(p.neighbours(r) - up) <= 200)
    page.click(f"#node-list tbody tr[data-key='{key(lot)}']")
    page.click("#panel #expand")
    wait_count(page, len(up | p.neighbours(lot)))
    shot(page, "2-expanded")
    page.click("#panel #collapse")
    wait_count(page, len(up))

    page.click("#dir-down")
    down = p.downstream(unit)
    wait_count(page, len(down))
    assert {r.split("/")[0] for r in down} >= {"SerializedUnit", "Shipment"}
    assert "downstream of" in page.inner_text("#trace-summary")
    shot(page, "3-downstream")


def test_recall_workbench_two_seeds_and_csv(page: Any) -> None:
    p = plant()
    batches = sorted(r for r in p.g if r.startswith("Batch/")
                     and any(x.startswith("Shipment/") for x in p.downstream(r)))
    seeds = [batches[0], batches[-1]]
    hit = set().union(*(p.downstream(s) for s in seeds))
    shipments = {r for r in hit if r.startswith("Shipment/")}
    customers = {key(str(p.links[s]["shippedTo"])) for s in shipments}

    page.click("#tabs a[data-view=recall]")
    # a spreadsheet export with a header and other columns: only the lot column becomes seeds
    sheet = "\ufeffbatch,lot,qty\n" + "".join(f"x{i},{key(s)},{i}\n" for i, s in enumerate(seeds))
    page.set_input_files("#seed-file", files=[{"name": "recall.csv", "mimeType": "text/csv",
                                               "buffer": sheet.encode()}])
    page.wait_for_function("() => document.getElementById('seeds').value.length > 0")
    assert page.input_value("#seeds").split("\n") == [key(s) for s in seeds]
    page.click("#run-recall")
    page.wait_for_selector("#customers tbody tr")
    assert page.inner_text("[data-count=shipments] b") == str(len(shipments))
    assert page.inner_text("[data-count=customers] b") == str(len(customers))
    units = sum(1 for r in hit if r.startswith("SerializedUnit/"))
    assert page.inner_text("[data-count=units] b") == str(units)
    shot(page, "4-recall")
    with page.expect_download() as dl:
        page.click("#dl-csv")
    with open(dl.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert {r["customer"] for r in rows} == customers
    assert {s for r in rows for s in r["shipments"].split()} == {key(s) for s in shipments}


def test_deviation_view_plots_the_signal_around_the_excursion(page: Any, demo: Demo) -> None:
    p = plant()
    exc = next(r for r in sorted(p.props) if r.startswith("Excursion/"))
    alarm = next(r for r, ln in p.links.items() if ln.get("raisedBy") == exc)
    dev = next(r for r, ln in p.links.items() if ln.get("raisedBy") == alarm)
    spec = str(p.links[exc]["violatesSpec"])
    at = datetime.fromisoformat(p.props[exc]["detectedAt"])
    window = timedelta(hours=72)  # the deviationView default
    obs = [r for r, ln in p.links.items() if ln.get("observes") == spec
           and abs(datetime.fromisoformat(p.props[r]["windowStart"]) - at) <= window]
    assert len(obs) >= 3

    page.click("#tabs a[data-view=deviation]")
    page.fill("#deviation-id", key(dev))
    page.click("#deviation-form button[type=submit]")
    page.wait_for_selector("#signal-plot")
    assert page.locator("#signal-plot circle.point").count() == len(obs)
    assert page.locator("#signal-plot line.limit").count() >= 2  # LSL and USL at least
    assert page.locator("#signal-plot line.event").count() == 1
    assert page.inner_text("#deviation-state") == p.props[dev]["deviationState"]
    holds = [ln["holds"] for r, ln in p.links.items()
             if r.startswith("Hold/") and ln.get("raisedBy") == dev]
    held = {h for hs in holds for h in ([hs] if isinstance(hs, str) else hs)}
    assert {li.strip() for li in page.locator("#held li a.node").all_inner_texts()} == {
        h.replace("/", " ", 1) for h in held}
    # the computed impact: everything downstream of what the deviation concerns or holds
    concerns = p.links[dev]["concerns"]
    scope = held | ({concerns} if isinstance(concerns, str) else set(concerns))
    below = set().union(*(p.downstream(r) for r in scope))
    page.wait_for_selector("[data-impact=units]")
    assert page.inner_text("[data-impact=units] b") == str(
        sum(1 for r in below if r.startswith("SerializedUnit/")))
    assert page.inner_text("[data-impact=shipments] b") == str(
        sum(1 for r in below if r.startswith("Shipment/")))
    shot(page, "5-deviation")

    # the signal's SPC chart: one point per observation of the spec (last 100)
    page.click("text=SPC chart of this parameter")
    page.wait_for_selector("#spc-plot")
    n = sum(1 for ln in p.links.values() if ln.get("observes") == spec)
    assert page.locator("#spc-plot circle.point").count() == min(n, 100)
    assert page.locator("#spc-plot circle.violation").count() >= 1  # the excursion's point
    # no raw samples: one subgroup per execution, its sd on the S chart; too few executions
    # for capability: no Cpk number, the reason instead
    assert page.locator("#spc-dispersion circle.point").count() == min(n, 100)
    assert n < 25 and page.inner_text("[data-stat=Cpk] b") == "not assessable"
    assert "capability needs at least 25 subgroups" in page.inner_text("#spc-not-assessable")
    shot(page, "6-spc")


def test_tablet_layout_stacks_the_panel_under_the_graph(page: Any) -> None:
    page.set_viewport_size({"width": 820, "height": 1180})
    unit = sorted(r for r in plant().g if r.startswith("SerializedUnit/"))[0]
    page.fill("#search-text", key(unit))
    page.click("#search button[type=submit]")
    wait_count(page, len(plant().upstream(unit)))
    graph, panel = page.locator("#graph").bounding_box(), page.locator("#panel").bounding_box()
    assert panel["y"] >= graph["y"] + graph["height"] - 1
    assert graph["width"] <= 820
    shot(page, "7-tablet")


def test_a_scanned_gs1_element_string_opens_the_unit(page: Any) -> None:
    p = plant()
    unit = sorted(r for r in p.g if r.startswith("SerializedUnit/"))[-1]
    scan = f"(01){p.props[unit]['gtin']}(21){key(unit)}"
    page.fill("#search-text", scan)
    page.click("#search button[type=submit]")
    wait_count(page, len(p.upstream(unit)))
    assert page.url.endswith(f"#/trace/{key(unit)}/UPSTREAM")
    assert page.inner_text("#panel h3") == f"Serialized unit {key(unit)}"  # the class by its label


def test_an_equipment_tag_shows_the_executions_of_a_suspect_window(page: Any) -> None:
    p = plant()
    exc = next(r for r in sorted(p.props) if r.startswith("Excursion/"))
    station = str(p.links[str(p.links[exc]["duringExecution"])]["onEquipment"])
    at = datetime.fromisoformat(p.props[exc]["detectedAt"])
    start, end = (t.replace(second=0, microsecond=0)  # what a datetime-local input holds
                  for t in (at - timedelta(hours=6), at + timedelta(hours=6)))
    runs = {key(r) for r, ln in p.links.items() if r.startswith("OperationExecution/")
            and ln.get("onEquipment") == station
            and datetime.fromisoformat(p.props[r]["startedAtTime"]) <= end
            and datetime.fromisoformat(p.props[r]["endedAtTime"]) >= start}
    assert runs

    page.fill("#search-text", key(station))
    page.click("#search button[type=submit]")
    page.wait_for_selector("#impact-form")
    page.fill("#impact-form input[name=from]", start.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#impact-form input[name=to]", end.strftime("%Y-%m-%dT%H:%M"))
    page.click("#impact-form button[type=submit]")
    page.wait_for_selector("#impact-executions")
    assert set(page.locator("#impact-executions li").all_inner_texts()) == runs
    shot(page, "8-equipment")
