"""Every command of the ``tracegraph`` command line, given a bad argument of each kind (an
unknown identifier, a missing file, a bad ``--format``, a bad date, no store), ends with a
message on stderr and a non-zero exit, never a traceback (issue 15 item 11).

The commands are found by walking the typer app, so a command added later is covered without
touching this file; the kinds of bad argument a command gets follow from its parameters (their
types, names and help). The few exemptions below say why.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tracegraph.cli import app
from tracegraph.settings import settings

ROOT = typer.main.get_command(app)

#: Path parameters a command writes (a missing one is normal): they get a path below a file
OUTPUTS = {("generate", "out"), ("export", "out"), ("backup", "dest"), ("backup", "key"),
           ("restore", "data_dir"), ("upgrade", "backup_dir"), ("audit checkpoint", "out"),
           ("audit checkpoint", "key"), ("portable export", "out"), ("quality edhr", "out"),
           ("recall", "out"), ("recall prove", "out"), ("recalls report", "out"),
           ("migrate dry-run", "report"), ("validation run", "out"), ("validation show", "out")}
#: commands that never open the configured store (nothing to refuse without one)
NO_STORE_EXEMPT = {
    "generate": "writes capture documents only",
    "validation check": "reads the test sources only",
    "validation run": "qualifies the installation in scratch stores (runs the test suite)",
    "restore": "restores into a data directory it is given, the configured store untouched",
}
DATE_NAMES = {"start", "end", "at", "as_of", "since", "until", "today", "due", "forecast"}
DATE_HELP = re.compile(r"\b(date|time|UTC|ISO|day)\b", re.IGNORECASE)
UNKNOWN = "NO-SUCH-ID-0"
GOOD_DATE = "2026-01-05"


def commands(group: Any = ROOT, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every runnable command: leaves, and groups that take parameters themselves."""
    for name, cmd in sorted(group.commands.items()):
        subs = getattr(cmd, "commands", None)
        if subs is None or [p for p in cmd.params if p.name != "help"]:
            yield " ".join((*path, name)), cmd
        if subs is not None:
            yield from commands(cmd, (*path, name))


def base_type(p: Any) -> tuple[type, bool]:
    """The parameter's Python type without ``| None`` and ``list[…]``; and whether a list."""
    t: Any = p.type_descriptor.annotation
    many = False
    while True:
        origin = typing.get_origin(t)
        if origin in (typing.Union, types.UnionType):
            t = next(a for a in typing.get_args(t) if a is not type(None))
        elif origin is list:
            t, many = typing.get_args(t)[0], True
        else:
            return t, many


def is_date(p: Any) -> bool:
    t, _ = base_type(p)
    help_text = p.type_descriptor.parameter_info.help or ""
    return t is str and (p.name in DATE_NAMES or bool(DATE_HELP.search(help_text)))


def value(name: str, p: Any, tmp: Path) -> str | None:
    """A well-formed value for ``p`` (None: a flag, left out)."""
    t, _ = base_type(p)
    if t is bool:
        return None
    if isinstance(t, type) and issubclass(t, Enum):
        return str(next(iter(t)).value)
    if t is Path:
        return str(tmp / "out" / name.replace(" ", "-") / p.name if (name, p.name) in OUTPUTS
                   else tmp / "input.json")
    if t in (int, float):
        return "1"
    return GOOD_DATE if is_date(p) else UNKNOWN


def argv(name: str, cmd: Any, tmp: Path, swap: dict[str, str] | None = None) -> list[str]:
    """The command line: the required parameters well-formed (identifiers unknown), the
    parameters in ``swap`` given that value instead."""
    out = name.split()
    swap = swap or {}
    for p in cmd.params:
        if p.name == "help" or (not p.required and p.name not in swap):
            continue
        v = swap.get(p.name) or value(name, p, tmp)
        if v is None:
            continue
        if p.param_type_name == "argument":
            out.append(v)
        else:
            out += [p.opts[0], v]
    return out


def cases() -> Iterator[Any]:
    for name, cmd in commands():
        params = [p for p in cmd.params if p.name != "help"]
        if any(p.required and base_type(p)[0] is str and not is_date(p) for p in params):
            yield pytest.param(name, "unknown identifier", {}, id=f"{name}:unknown-id")
        for p in params:
            t, _ = base_type(p)
            if t is Path:
                bad = ("{tmp}/input.json/no-such-dir/file" if (name, p.name) in OUTPUTS
                       else "{tmp}/no-such-file.json")
                yield pytest.param(name, "missing file", {p.name: bad},
                                   id=f"{name}:missing-{p.name}")
            if "--format" in p.opts:
                yield pytest.param(name, "bad --format", {p.name: "no-such-format"},
                                   id=f"{name}:bad-format")
            if is_date(p):
                yield pytest.param(name, "bad date", {p.name: "2026-13-45T99:00"},
                                   id=f"{name}:bad-date-{p.name}")
        if name not in NO_STORE_EXEMPT:
            yield pytest.param(name, "no store", {}, id=f"{name}:no-store")


COMMANDS = dict(commands())


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("every-command")
    (tmp / "input.json").write_text("{}\n")
    return tmp


@pytest.mark.parametrize(("name", "kind", "swap"), list(cases()))
def test_a_bad_argument_gives_a_message_and_a_non_zero_exit(
        name: str, kind: str, swap: dict[str, str], data: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"TRACEGRAPH_DATA_DIR": str(data / "store"), "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_PASSWORD": "not-the-password-1", "COLUMNS": "80", "NEO4J_URI": None}
    if kind == "no store":  # a Neo4j server nobody listens for
        env |= {"TRACEGRAPH_STORE": "neo4j", "NEO4J_URI": "bolt://127.0.0.1:9"}
    for k, v in env.items():
        if v is None:
            monkeypatch.delenv(k, raising=False)
        else:
            monkeypatch.setenv(k, v)
    settings.cache_clear()
    args = argv(name, COMMANDS[name], data, {k: v.format(tmp=data) for k, v in swap.items()})
    r = CliRunner().invoke(app, args, input="")
    settings.cache_clear()
    shown = f"{args}\n{r.output}"
    assert r.exit_code != 0, shown
    assert r.exception is None or isinstance(r.exception, SystemExit), (shown, r.exception)
    assert "Traceback" not in r.output, shown
    assert r.output.strip(), shown  # something says what was wrong


def test_every_command_is_walked() -> None:
    """The walk finds the nested commands (a guard on the walk itself)."""
    names = set(COMMANDS)
    assert {"load", "recall", "recall prove", "equipment work-order open", "audit verify",
            "documents train", "suppliers scorecard"} <= names
    assert len(names) > 60
