"""The portable store format (graph.portable): a whole store, audit trail included, out of one
engine and into the other; ``audit verify`` passes on the target and every answer is the same."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from graph.audit import verify_store
from graph.engines.sqlite.store import SQLiteStore
from graph.model import Direction
from graph.port import GraphStore
from graph.portable import PortableError, export_store, import_store
from tests import plantlet
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


@pytest.fixture
def source(tmp_path: Path) -> Runtime:
    """The plantlet on the embedded engine, plus a later update of a record."""
    rt = Runtime.open(Settings(data_dir=tmp_path / "src"),
                      store=SQLiteStore(tmp_path / "src" / "tracegraph.sqlite"))
    plantlet.load(rt)
    return rt


@pytest.mark.req("URS-REC-04")
def test_a_store_exported_loads_into_either_engine_with_its_audit_trail(
        source: Runtime, store: GraphStore, tmp_path: Path) -> None:
    src = source.store
    f = tmp_path / "store.tgp.jsonl.gz"
    header = export_store(src, f)
    assert header["watermark"] == src.watermark()
    import_store(store, f)
    report = verify_store(store)
    assert report.ok and report.state is not None and report.state.ok
    assert store.audit_head() == src.audit_head()
    assert store.watermark() == src.watermark()
    assert store.counts() == src.counts()
    [sn1] = src.find("SN-1")
    assert (set(store.genealogy([sn1.iri], Direction.UPSTREAM).nodes)
            == set(src.genealogy([sn1.iri], Direction.UPSTREAM).nodes))
    assert store.get_many(list(src.get_many([sn1.iri]))) == src.get_many([sn1.iri])
    with pytest.raises(PortableError, match="not empty"):  # once only
        import_store(store, f)


@pytest.mark.req("URS-REC-04")
def test_a_truncated_or_miscounted_file_is_refused_and_nothing_is_written(
        source: Runtime, tmp_path: Path) -> None:
    f = tmp_path / "store.tgp.jsonl.gz"
    export_store(source.store, f)
    lines = gzip.decompress(f.read_bytes()).splitlines()
    short = tmp_path / "short.tgp.jsonl.gz"
    short.write_bytes(gzip.compress(b"\n".join(lines[:-3]) + b"\n"))
    target = SQLiteStore(tmp_path / "t.sqlite")
    with pytest.raises(PortableError, match="its header says"):
        import_store(target, short)
    cut = tmp_path / "cut.tgp.jsonl.gz"
    cut.write_bytes(f.read_bytes()[:-40])
    with pytest.raises(PortableError, match="incomplete or malformed"):
        import_store(target, cut)
    assert target.watermark() == 0 and target.counts() == {}
    assert orjson.loads(lines[0])["format"] == "tracegraph-portable/1"
    target.close()


@pytest.mark.req("URS-REC-04")
def test_cli_export_then_import_into_an_empty_store_verifies(source: Runtime,
                                                             tmp_path: Path) -> None:
    from typer.testing import CliRunner, Result

    from tracegraph.cli.main import app

    src_dir = tmp_path / "src"  # the source fixture's data directory
    f = tmp_path / "out.tgp.jsonl.gz"

    def run(data: Path, *args: str) -> Result:
        return CliRunner().invoke(app, list(args), env={
            "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded"})

    out = run(src_dir, "portable", "export", str(f))
    assert out.exit_code == 0, out.output
    done = run(tmp_path / "fresh", "portable", "import", str(f), "--json")
    assert done.exit_code == 0, done.output
    report = orjson.loads(done.stdout)
    assert report["audit"]["ok"] and report["header"]["watermark"] == source.store.watermark()
    again = run(tmp_path / "fresh", "portable", "import", str(f), "--json")
    assert again.exit_code == 1
    [p] = orjson.loads(again.stdout)["problems"]
    assert p["rule"] == "portable" and "not empty" in p["message"]
