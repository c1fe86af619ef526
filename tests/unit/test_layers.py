"""The packages import only downward, and no module imports itself round a circle.

Layers, lowest first (``docs``: ARCHITECTURE.md, DESIGN §2)::

    ontology → shapes → graph → quality → ingest → tracegraph → api → tracegraph.cli

Every ``import`` and ``from … import`` of every ``.py`` file in these packages is read with
:mod:`ast` — at module level, under ``if TYPE_CHECKING:`` and inside functions alike — and
resolved to the most specific module of ours it names (relative imports and
``from package import module`` included). A module may import its own layer and those below;
an import of a higher layer fails, naming the file, the line and the imported module. The same
edges make a module graph that must have no cycle. ``bench/`` and ``tests/`` may import anything
and are not checked; of the layered code only the CLI may import ``bench`` (``generate``,
``demo``), and nothing imports ``tests``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["ontology", "shapes", "graph", "quality", "ingest", "tracegraph", "api"]
#: Rank of each layer, lowest first; the longest matching prefix of a module name decides.
RANKS = {"ontology": 0, "shapes": 1, "graph": 2, "quality": 3, "ingest": 4, "tracegraph": 5,
         "api": 6, "tracegraph.cli": 7, "bench": 7, "tests": 8}
#: Top-level packages an import may name that are ranked but not read (they import anything).
UNCHECKED = ["bench", "tests"]



@dataclass(frozen=True)
class Edge:
    src: str  # importing module
    dst: str  # imported module (ours)
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.src} imports {self.dst}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _ours(name: str) -> bool:
    return name.split(".")[0] in (*PACKAGES, *UNCHECKED)


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The most specific module of ours that ``name`` names (a module, or a name in one); a
    name in an unchecked package is kept as it is."""
    if name.split(".")[0] in UNCHECKED:
        return name
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Edge]:
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import module`` names the module; ``from mod import name`` the module
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                       for a in node.names]
        for target in targets:
            if not _ours(target):
                continue
            dst = _resolve(target, modules)
            if dst is not None and dst != module:
                yield Edge(module, dst, path, node.lineno)


def _rank(module: str) -> int:
    best = max((p for p in RANKS if module == p or module.startswith(p + ".")), key=len)
    return RANKS[best]


def _edges() -> list[Edge]:
    modules = _modules()
    return [e for m, p in modules.items() for e in _imports(m, p, modules)]


EDGES = _edges()


def test_imports_are_resolved_in_every_form(tmp_path: Path) -> None:
    """Absolute, relative, ``from package import module``, function-local and TYPE_CHECKING
    imports all become edges to the module they name."""
    src = tmp_path / "quality" / "sub" / "mod.py"
    src.parent.mkdir(parents=True)
    src.write_text("from typing import TYPE_CHECKING\n"
                   "import graph.port\n"
                   "from graph import session\n"
                   "from graph.write import Writer\n"
                   "from . import sibling\n"
                   "from ..guards import default_guards\n"
                   "if TYPE_CHECKING:\n    from api.app import create_app\n"
                   "def f():\n    from tracegraph.settings import settings\n")
    modules = {m: tmp_path for m in ("graph", "graph.port", "graph.session", "graph.write",
                                     "quality.sub.sibling", "quality.guards", "api.app",
                                     "tracegraph.settings")}
    edges = [(e.dst, e.line) for e in _imports("quality.sub.mod", src, modules)]
    assert edges == [("graph.port", 2), ("graph.session", 3), ("graph.write", 4),
                     ("quality.sub.sibling", 5), ("quality.guards", 6), ("api.app", 8),
                     ("tracegraph.settings", 10)]


def test_every_package_is_read() -> None:
    names = {e.src.split(".")[0] for e in EDGES}
    assert set(PACKAGES) - {"ontology"} <= names  # every package imports something of ours
    assert any(e.src.startswith("tracegraph.cli") for e in EDGES)


def test_imports_point_only_downward() -> None:
    upward = [e for e in EDGES if _rank(e.dst) > _rank(e.src)]
    assert not upward, "imports of a higher layer:\n" + "\n".join(map(str, upward))


def test_no_import_cycles() -> None:
    g: nx.DiGraph[str] = nx.DiGraph()
    first: dict[tuple[str, str], Edge] = {}
    for e in EDGES:
        g.add_edge(e.src, e.dst)
        first.setdefault((e.src, e.dst), e)
    cycles = [c for c in nx.strongly_connected_components(g) if len(c) > 1]
    report = []
    for component in cycles:
        cycle = nx.find_cycle(g.subgraph(component))
        report.append("cycle:\n  " + "\n  ".join(str(first[(a, b)]) for a, b in cycle))
    assert not cycles, "\n".join(report)
