"""The CLI as a tool people script: a user's mistake (a missing file, an unknown identifier, a bad
choice) gives a clear message and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tracegraph.cli import app


@pytest.mark.parametrize(("args", "says"), [
    (["load", "/no/such/capture.json"], "does not exist"),
    (["validate", "/no/such/capture.json"], "does not exist"),
    (["import-rdf", "/no/such/trace.ttl"], "does not exist"),
    (["export", "--seed", "SN-1", "--format", "xml"], "'xml' is not one of"),
    (["export", "--seed", "SN-1", "--direction", "sideways"], "'sideways' is not one of"),
    (["recall", "--seeds", "/no/such/seeds.csv"], "no seed file"),
])
def test_user_errors_exit_non_zero_without_a_traceback(args: list[str], says: str,
                                                       tmp_path: Path) -> None:
    r = CliRunner().invoke(app, args, env={"TRACEGRAPH_DATA_DIR": str(tmp_path)})
    assert r.exit_code != 0, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert says in " ".join(r.output.split()), r.output
    assert "Traceback" not in r.output
