"""The genealogy benchmark's questions, engines and answers (:mod:`bench.genealogy`): what is
asked, which engines answer, an answer reduced to what engines are compared on, the timings of
one engine on one question, and the console everything prints to."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np
from rich.console import Console

from graph.model import Direction

__all__ = [
    "DEFAULT_ENGINES",
    "ENGINES",
    "PAGE",
    "PAGE_TARGET_MS",
    "QUESTIONS",
    "REFERENCE",
    "TARGET_MS",
    "Answer",
    "Cell",
    "Question",
    "compare",
    "console",
]

console = Console(width=int(os.environ.get("BENCH_WIDTH", "160")))


# -- questions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    name: str
    text: str
    direction: Direction
    pool: str  # "lots" | "units"
    k: int  # seeds per run
    target: str = ""  # the DESIGN / issue target, as printed


QUESTIONS: tuple[Question, ...] = (
    Question("forward", "DOWNSTREAM from 1 supplier lot", Direction.DOWNSTREAM, "lots", 1,
             "p99 ≤ 50 ms"),
    Question("backward", "UPSTREAM from 1 serialised unit", Direction.UPSTREAM, "units", 1,
             "p99 ≤ 10 ms"),
    Question("recall-10", "DOWNSTREAM from 10 lots", Direction.DOWNSTREAM, "lots", 10),
    Question("recall-100", "DOWNSTREAM from 100 lots", Direction.DOWNSTREAM, "lots", 100),
    Question("recall-1000", "DOWNSTREAM from 1,000 lots", Direction.DOWNSTREAM, "lots", 1000,
             "≤ 2 s"),
)
TARGET_MS = {"forward": 50.0, "backward": 10.0, "recall-1000": 2000.0}
#: issue 16: the full answer a user receives (counts + first page), embedded.page
PAGE_TARGET_MS = {"forward": 20.0, "recall-100": 300.0}

ENGINES = ("embedded.reach", "embedded.walk", "embedded.page", "embedded.genealogy",
           "neo4j.genealogy", "neo4j.cypher", "postgres.cte", "csr")
DEFAULT_ENGINES = ("embedded.reach", "embedded.page", "embedded.genealogy", "neo4j.genealogy",
                   "postgres.cte", "csr")
#: the first page a user is shown (embedded.page: counts + this many node and edge records)
PAGE = 1000
REFERENCE = "embedded.genealogy"


# -- answers -----------------------------------------------------------------------------------

@dataclass
class Answer:
    """An engine's answer reduced to what the engines can be compared on."""

    depth: dict[str, int] | None  # iri -> depth (None: the engine gives no depths)
    nodes: set[str]
    edges: int  # edges walked (distinct id pairs for embedded.reach)
    #: a paged answer (embedded.page): the first page of (IRI, depth) by (depth, IRI), whose
    #: ``nodes`` are then only the page's and ``edges`` the count of every walked edge
    page: list[tuple[str, int]] | None = None
    node_count: int = -1


@dataclass
class Cell:
    """Timings and answer sizes of one engine on one question."""

    seconds: list[float] = field(default_factory=list)
    reached: list[int] = field(default_factory=list)
    edges: list[int] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def pct(self, q: float) -> float:
        return float(np.percentile(np.array(self.seconds) * 1000, q)) if self.seconds else math.nan



def compare(ref: Answer, ans: Answer) -> str:
    if ans is ref:
        return ""
    out = []
    if ans.page is not None and ref.depth is not None:
        want = sorted(ref.depth.items(), key=lambda x: (x[1], x[0]))[:len(ans.page)]
        if ans.node_count != len(ref.nodes):
            out.append(f"{ans.node_count} nodes counted, {len(ref.nodes)} reached")
        if ans.page != want or len(ans.page) < min(PAGE, len(ref.nodes)):
            out.append("first page differs from the reference's first nodes by (depth, IRI)")
        if ref.edges >= 0 and ans.edges != ref.edges:
            out.append(f"{ans.edges} edges counted, {ref.edges} walked")
        return "; ".join(out)
    if ans.nodes != ref.nodes:
        missing, extra = ref.nodes - ans.nodes, ans.nodes - ref.nodes
        out.append(f"{len(missing)} nodes missing (e.g. {sorted(missing)[:2]}), "
                   f"{len(extra)} extra (e.g. {sorted(extra)[:2]})")
    elif ans.depth is not None and ref.depth is not None and ans.depth != ref.depth:
        diff = [k for k in ref.depth if ref.depth[k] != ans.depth.get(k)]
        out.append(f"{len(diff)} nodes at another depth (e.g. {diff[:2]})")
    return "; ".join(out)

