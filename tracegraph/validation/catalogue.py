"""The requirements catalogue: ``requirements.toml`` next to this module (package data, so an
installed system has the catalogue it is validated against), read with the standard library's
``tomllib`` (no extra dependency).

Each requirement has an id (``URS-…``), a title, its text, a GAMP 5 software category with a risk
class and the reason, and the regulatory clauses it serves; each clause has a title.
:func:`coverage` traces requirements to the tests that name them with
``@pytest.mark.req("URS-…")`` (found by :func:`scan_markers` without importing the tests) and
lists what is missing either way.
"""

from __future__ import annotations

import ast
import functools
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CATALOGUE", "REQUIRED_CLAUSES", "Catalogue", "Clause", "Coverage", "Requirement",
           "coverage", "load", "scan_markers"]

CATALOGUE = Path(__file__).with_name("requirements.toml")
FORMAT = "tracegraph.requirements/1"
RISK_CLASSES = ("high", "medium", "low")
GAMP_CATEGORIES = (1, 3, 4, 5)

#: The clauses issue 19 lists: each must be served by at least one requirement.
REQUIRED_CLAUSES: tuple[str, ...] = (
    *(f"21CFR11.10({c})" for c in "abcdefghijk"),
    "21CFR11.50", "21CFR11.70", "21CFR11.100", "21CFR11.200", "21CFR11.300",
    *(f"EU-GMP-Annex11-{n}" for n in (4, 5, 7, 8, 9, 10, 11, 12, 14, 16, 17)),
    *(f"ISO13485-{n}" for n in ("4.1.6", "4.2.5", "7.5.1", "7.5.6", "7.5.8", "7.5.9", "8.3")),
    "21CFR820.184", "21CFR820.198", "21CFR7.42/806",
    "CN-GMP-records", "CN-GMP-traceability", "CN-GMP-deviation", "CN-GMP-CAPA", "CN-UDI",
)


@dataclass(frozen=True)
class Clause:
    id: str
    title: str
    note: str = ""


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    text: str
    gamp_category: int
    risk: str
    risk_reason: str
    clauses: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    requirements: dict[str, Requirement]
    clauses: dict[str, Clause]

    def problems(self) -> list[str]:
        """What is wrong with the catalogue itself (empty when it is sound)."""
        out: list[str] = []
        for r in self.requirements.values():
            if not r.id.startswith("URS-"):
                out.append(f"{r.id}: an id starts with URS-")
            if r.gamp_category not in GAMP_CATEGORIES:
                out.append(f"{r.id}: GAMP category {r.gamp_category} is not one of "
                           f"{GAMP_CATEGORIES}")
            if r.risk not in RISK_CLASSES:
                out.append(f"{r.id}: risk {r.risk!r} is not one of {RISK_CLASSES}")
            if not (r.text.strip() and r.risk_reason.strip() and r.clauses):
                out.append(f"{r.id}: needs a text, a risk reason and at least one clause")
            out += [f"{r.id}: unknown clause {c!r}" for c in r.clauses if c not in self.clauses]
        return out

    def served(self) -> dict[str, list[str]]:
        """Each clause → the requirements serving it."""
        out: dict[str, list[str]] = {c: [] for c in self.clauses}
        for r in self.requirements.values():
            for c in r.clauses:
                out.setdefault(c, []).append(r.id)
        return out


@functools.cache
def load(path: Path = CATALOGUE) -> Catalogue:
    """The catalogue; ``ValueError`` naming the entry when it is malformed or of another
    format."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: format {doc.get('format')!r}, expected {FORMAT!r}")
    clauses = {k: Clause(k, str(v["title"]), str(v.get("note", "")))
               for k, v in doc.get("clauses", {}).items()}
    reqs: dict[str, Requirement] = {}
    for i, r in enumerate(doc.get("requirement", [])):
        try:
            req = Requirement(str(r["id"]), str(r["title"]), str(r["text"]),
                              int(r["gamp_category"]), str(r["risk"]), str(r["risk_reason"]),
                              tuple(str(c) for c in r["clauses"]))
        except KeyError as e:
            raise ValueError(f"{path}: requirement #{i + 1} has no {e.args[0]}") from None
        if req.id in reqs:
            raise ValueError(f"{path}: requirement {req.id} is listed twice")
        reqs[req.id] = req
    return Catalogue(reqs, clauses)


def _req_ids(decorator: ast.expr) -> list[str] | None:
    """The ids of a ``pytest.mark.req("…", …)`` decorator, or ``None`` for another one."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "req"):
        return None
    return [a.value for a in decorator.args
            if isinstance(a, ast.Constant) and isinstance(a.value, str)]


def scan_markers(tests: Path) -> dict[str, list[str]]:
    """Each test function under ``tests`` (``path::name``, relative to ``tests``' parent) → the
    requirement ids of its ``req`` markers, read from the source without importing it."""
    out: dict[str, list[str]] = {}
    for f in sorted(tests.rglob("test_*.py")):
        tree = ast.parse(f.read_text(encoding="utf-8"), str(f))
        rel = f.relative_to(tests.parent).as_posix()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                ids = [i for d in node.decorator_list for i in (_req_ids(d) or [])]
                if ids:
                    out[f"{rel}::{node.name}"] = ids
    return out


@dataclass
class Coverage:
    """Requirements ↔ tests ↔ clauses, and what is missing."""

    tests: dict[str, list[str]]  # test → requirement ids
    by_requirement: dict[str, list[str]] = field(default_factory=dict)
    untested: list[str] = field(default_factory=list)
    unknown: dict[str, list[str]] = field(default_factory=dict)  # test → unknown ids
    unserved: list[str] = field(default_factory=list)
    catalogue_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.untested or self.unknown or self.unserved or self.catalogue_problems)


def coverage(cat: Catalogue, tests: Mapping[str, Iterable[str]],
             required: Iterable[str] = REQUIRED_CLAUSES) -> Coverage:
    """Trace ``tests`` (test → requirement ids) to the catalogue."""
    t = {k: list(v) for k, v in tests.items()}
    cov = Coverage(t, {r: [] for r in cat.requirements})
    for test, ids in sorted(t.items()):
        for i in ids:
            if i in cat.requirements:
                cov.by_requirement[i].append(test)
            else:
                cov.unknown.setdefault(test, []).append(i)
    cov.untested = [r for r, ts in cov.by_requirement.items() if not ts]
    served = cat.served()
    cov.unserved = [c for c in required if not served.get(c)]
    cov.catalogue_problems = cat.problems()
    return cov
