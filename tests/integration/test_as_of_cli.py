"""The auditor's command line (issue 18 item 4): ``tracegraph node ID --as-of TIME`` prints
what the system said about a record at a past record time, with the watermark of then."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import plantlet
from tests.integration.test_cli import migrate, run, write_docs


def node(tmp: Path, *args: str) -> Any:
    done = run(tmp, "node", *args, "--json")
    assert done.returncode == 0, done.stderr
    return orjson.loads(done.stdout)


@pytest.mark.req("URS-AUD-03")
def test_node_as_of_prints_the_record_as_the_system_knew_it(tmp_path: Path) -> None:
    assert migrate(tmp_path, write_docs(tmp_path, plantlet.documents())).returncode == 0
    before = node(tmp_path, "B-MOULD")
    assert before["properties"]["quantity"] == 1000 and before["asOf"] is None
    recount = {"format": "tracegraph.capture/1", "events": [{
        "eventId": "recount", "reason": "recount after scrap", "nodes": [
            {"class": "Batch", "key": "B-MOULD", "properties": {"quantity": 990}},
            {"class": "Customer", "key": "HOSP-9", "properties": {"name": "Later Hospital"}}]}]}
    f = tmp_path / "recount.jsonl"
    f.write_bytes(orjson.dumps(recount) + b"\n")
    loaded = run(tmp_path, "load", str(f))
    assert loaded.returncode == 0, loaded.stderr
    at = before["updatedAt"]
    then = node(tmp_path, "B-MOULD", "--as-of", at)
    assert then["properties"] == before["properties"]
    assert (then["asOf"], then["watermark"]) == (at, before["txId"])  # its last write
    assert then["links"] == before["links"]
    assert node(tmp_path, "B-MOULD")["properties"]["quantity"] == 990
    # the same instant in another zone is the same record time
    shifted = at[:10] + "T" + f"{(int(at[11:13]) + 2) % 24:02d}" + at[13:-1] + "+02:00"
    if int(at[11:13]) < 22:
        assert node(tmp_path, "B-MOULD", "--as-of", shifted)["properties"]["quantity"] == 1000
    table = run(tmp_path, "node", "B-MOULD", "--as-of", at)
    assert f"as known at {at}" in table.stdout and "1000" in table.stdout
    # a record made later did not exist then; a bad time is refused with its rule
    assert run(tmp_path, "node", "HOSP-9", "--as-of", at).returncode == 1
    bad = run(tmp_path, "node", "B-MOULD", "--as-of", "yesterday")
    assert bad.returncode == 2 and "as-of='yesterday'" in bad.stderr
    report = run(tmp_path, "quality", "release-report", "B-MOULD", "--as-of", at)
    assert f"as known at {at} (watermark {before['txId']})" in report.stdout
