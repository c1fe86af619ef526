"""The CLI's tables are readable at 80 columns (no line longer than the terminal: cells wrap,
low-priority columns give way) and the commands that print one have ``--json`` with the same
rows (issue 15 item 11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from bench.plant import PLANT_MIGRATION, generate_plant
from tests import plantlet
from tests.conftest import migrate
from tracegraph.cli import app
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings, settings


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """The plantlet (a recall, a release review with exceptions) and the demo plant
    (controlled documents, overdue CAPA actions)."""
    plant = tmp_path_factory.mktemp("plantlet")
    rt = Runtime.open(Settings(data_dir=plant))
    migrate(rt, *plantlet.documents())
    rt.close()
    (plant / "seeds.csv").write_text("lot\nPA-778\n")
    demo = tmp_path_factory.mktemp("demo")
    rt = Runtime.open(Settings(data_dir=demo))
    for d in generate_plant(size="demo", seed=7):
        rt.capture(d, migration=PLANT_MIGRATION)
    rt.close()
    yield {"plantlet": plant, "demo": demo}


def cli(data: Path, monkeypatch: pytest.MonkeyPatch, columns: int, *args: str) -> str:
    monkeypatch.setenv("TRACEGRAPH_DATA_DIR", str(data))
    monkeypatch.setenv("TRACEGRAPH_STORE", "embedded")
    monkeypatch.setenv("COLUMNS", str(columns))
    settings.cache_clear()
    r = CliRunner().invoke(app, list(args))
    settings.cache_clear()
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.stdout


TABLES = [("info",), ("documents", "list"), ("quality", "overdue", "--today", "2027-01-01"),
          ("quality", "release-report", "RL-PP"), ("audit", "report"),
          ("kpi", "--from", "2026-01-01", "--to", "2027-01-01"), ("node", "SN-1"),
          ("suppliers", "asl"), ("impact", "IMM-01"),
          ("recall", "--seeds", "{data}/seeds.csv", "--out", "{data}/recall")]


def store_of(args: tuple[str, ...], stores: dict[str, Path]) -> Path:
    return stores["demo" if args[:2] in (("documents", "list"), ("quality", "overdue"))
                  else "plantlet"]


@pytest.mark.parametrize("args", TABLES, ids=lambda a: " ".join(a[:2]))
def test_tables_fit_80_columns(args: tuple[str, ...], stores: dict[str, Path],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    data = store_of(args, stores)
    out = cli(data, monkeypatch, 80, *(a.format(data=data) for a in args))
    assert "┃" in out or "│" in out, out  # a table was printed
    long = [line for line in out.splitlines() if len(line) > 80]
    assert not long, "\n".join(long)


def table_rows(text: str) -> list[list[str]]:
    """The body rows of a rich table as printed (one line a row: a wide terminal)."""
    return [[c.strip() for c in line.strip().strip("│").split("│")]
            for line in text.splitlines() if line.startswith("│")]


JSON_CASES: list[tuple[tuple[str, ...], Any]] = [
    (("info",), lambda j: [[r["label"], f"{r['count']:,}"] for r in j["counts"]]),
    (("quality", "overdue", "--today", "2027-01-01"),
     lambda j: [[r["action"], r["capa"], r["owner"], r["due"], r["state"],
                 f"{r['daysOverdue']:,}"] for r in j]),
    (("documents", "list"), lambda j: [[r["document"], ", ".join(
        f"{x['key']} ({x['status']})" for x in r["revisions"]), r["inForce"] or "—",
        r["trainingDueBy"] or "", r["title"] or ""] for r in j]),
    (("recall", "--seeds", "{data}/seeds.csv", "--out", "{data}/recall-json"),
     lambda j: [[k, f"{v:,}"] for k, v in j["summary"].items()]),
    (("quality", "release-report", "RL-PP"),
     lambda j: [[r["rule"], r["record"], "" if r["value"] is None else str(r["value"]),
                 r["message"]]
                for r in j["exceptions"]]),
]


@pytest.mark.parametrize(("args", "rows"), JSON_CASES, ids=lambda a: str(a)[:30])
def test_json_has_the_rows_of_the_table(args: tuple[str, ...], rows: Any,
                                        stores: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    data = store_of(args, stores)
    argv = [a.format(data=data) for a in args]
    body = orjson.loads(cli(data, monkeypatch, 400, *argv, "--json"))
    table = table_rows(cli(data, monkeypatch, 400, *argv))
    assert table and table == rows(body)
