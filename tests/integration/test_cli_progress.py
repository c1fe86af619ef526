"""The long commands draw a progress bar on stderr when it is a terminal (FORCE_COLOR makes
rich treat it as one), none with ``--quiet`` or when stderr is a pipe; what a script reads from
stdout is the same byte for byte either way (issue 15 item 11)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from rdflib import Graph

from tests import plantlet
from tests.integration.test_cli import EXE, migrate, write_docs


def run(tmp: Path, *args: str, terminal: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(tmp / "store"),
           "TRACEGRAPH_STORE": "embedded", "COLUMNS": "100"}
    env.pop("FORCE_COLOR", None)
    env.pop("TRACEGRAPH_QUIET", None)
    if terminal:
        env["FORCE_COLOR"] = "1"
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300)


def test_progress_on_stderr_only_on_a_terminal_and_never_in_stdout(tmp_path: Path) -> None:
    f = write_docs(tmp_path, plantlet.documents())
    assert migrate(tmp_path, f).returncode == 0
    export = ("export", "--seed", "SN-1", "--format", "turtle")
    bar = run(tmp_path, *export, terminal=True)
    piped = run(tmp_path, *export, terminal=False)
    quiet = run(tmp_path, "--quiet", *export, terminal=True)
    assert bar.returncode == piped.returncode == quiet.returncode == 0, bar.stderr
    assert bar.stdout == piped.stdout == quiet.stdout  # the Turtle, untouched
    assert len(Graph().parse(data=bar.stdout, format="turtle")) > 0
    assert "export" in bar.stderr and "━" in bar.stderr  # the bar, drawn on stderr
    assert "━" not in piped.stderr and "━" not in quiet.stderr

    seeds = tmp_path / "seeds.csv"
    seeds.write_text("lot\nPA-778\n")
    recall = ("recall", "--seeds", str(seeds), "--out")
    a = run(tmp_path, *recall, str(tmp_path / "a"), terminal=True)
    b = run(tmp_path, "-q", *recall, str(tmp_path / "b"), terminal=True)
    assert a.returncode == b.returncode == 0, a.stderr
    live = "\x1b[?25l"  # a live display hides the cursor while it draws
    assert "recall" in a.stderr and live in a.stderr and live not in b.stderr
    assert live not in a.stdout and "done" not in a.stdout
    for name in ("recall-units.csv", "recall-shipments.csv", "recall-customers.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
