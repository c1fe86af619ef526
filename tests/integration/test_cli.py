"""The command line as a user runs it: load, validate, info (embedded store in a temp dir)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests import plantlet

EXE = str(Path(sys.executable).with_name("tracegraph"))


ADMIN_PASSWORD = "correct horse battery staple"


def run(tmp: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(tmp / "store"),
           "TRACEGRAPH_STORE": "embedded", "COLUMNS": "200", "TRACEGRAPH_PASSWORD": ADMIN_PASSWORD}
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=300,
                          input=stdin)


def migrate(tmp: Path, f: Path) -> subprocess.CompletedProcess[str]:
    """``tracegraph load --migration`` signed by a first administrator (created on first use):
    the plantlet holds records in later states (Effective versions, approved suppliers)."""
    run(tmp, "user", "create-admin", "--username", "it.admin", "--name", "IT Admin",
        "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    return run(tmp, "load", "--migration", "--user", "it.admin", "--reason",
               "legacy master data", str(f))


def write_docs(tmp: Path, docs: list[dict[str, object]]) -> Path:
    f = tmp / "capture.jsonl"
    f.write_bytes(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")
    return f


def test_load_prints_throughput_and_is_idempotent(tmp_path: Path) -> None:
    f = write_docs(tmp_path, plantlet.documents())
    refused = run(tmp_path, "load", str(f))  # Effective versions: not by a plain load
    assert refused.returncode == 1 and "workflow-managed" in refused.stderr
    first = migrate(tmp_path, f)
    assert first.returncode == 0, first.stderr
    assert "edges/s" in first.stdout and "with validation" in first.stdout
    assert "0 already present" in first.stdout
    again = run(tmp_path, "load", str(f))
    assert again.returncode == 0
    assert "loaded 0 events" in again.stdout
    info = run(tmp_path, "info")
    assert "SerializedUnit" in info.stdout and "WAS_DERIVED_FROM" in info.stdout


@pytest.mark.req("URS-DATA-01")
def test_validate_reports_each_problem_and_writes_nothing(tmp_path: Path) -> None:
    doc = plantlet.master_data()
    doc["events"][0]["nodes"][4]["properties"]["gtin"] = "0950600013435"  # 13 digits
    doc["events"][0]["nodes"][0]["properties"]["supplierStatus"] = "preferred"
    f = write_docs(tmp_path, [doc])
    out = run(tmp_path, "validate", "--migration", str(f))
    assert out.returncode == 1
    assert "gtin" in out.stderr and "0950600013435" in out.stderr
    assert "supplierStatus" in out.stderr and "preferred" in out.stderr
    assert "nothing was written" in out.stderr
    loaded = run(tmp_path, "load", str(f))
    assert loaded.returncode == 1
    assert "SerializedUnit" not in run(tmp_path, "info").stdout
    good = write_docs(tmp_path, [plantlet.master_data()])
    assert run(tmp_path, "validate", "--migration", str(good)).returncode == 0
    assert "Supplier " not in run(tmp_path, "info").stdout  # validate wrote nothing


@pytest.mark.req("URS-REC-02")
def test_export_a_trace_as_rdf(tmp_path: Path) -> None:
    from rdflib import Graph, URIRef

    f = write_docs(tmp_path, plantlet.documents())
    assert migrate(tmp_path, f).returncode == 0
    out = tmp_path / "sn1.ttl"
    r = run(tmp_path, "export", "--seed", "SN-1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    g = Graph().parse(out)
    sn1 = URIRef("https://w3id.org/tracegraph/id/SerializedUnit/SN-1")
    lot = URIRef("https://w3id.org/tracegraph/id/MaterialLot/RL-PP")
    assert (sn1, None, None) in g and (lot, None, None) in g
    missing = run(tmp_path, "export", "--seed", "NO-SUCH-UNIT")
    assert missing.returncode == 1 and "NO-SUCH-UNIT" in missing.stderr
