"""``tracegraph quality …`` as a user runs it (embedded store in a temp dir)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests import plantlet
from tests.integration.test_cli import migrate, run, write_docs
from tests.integration.test_i18n_api import concept, label


@pytest.mark.req("URS-REC-02", "URS-DHR-01")
def test_release_report_and_edhr_from_the_command_line(tmp_path: Path) -> None:
    f = write_docs(tmp_path, [*plantlet.documents(), {
        "format": "tracegraph.capture/1", "events": [{
            "eventId": "dev", "reason": "found at inspection", "nodes": [{
                "class": "Deviation", "key": "DEV-CLI-1",
                "properties": {"title": "Kinked tubing", "description": "kinks",
                               "deviationGrade": "minor", "deviationState": "Open",
                               "openedAt": "2026-03-04T08:00:00Z"},
                "links": {"concerns": "Batch/B-MOULD"}}]}]}])
    assert migrate(tmp_path, f).returncode == 0
    blocked = run(tmp_path, "quality", "release-report", "B-ASSY")
    assert blocked.returncode == 1, blocked.stderr  # the deviation is upstream of B-ASSY
    assert "open-deviation" in blocked.stdout and "DEV-CLI-1" in blocked.stdout
    assert "migrated record(s)" in blocked.stdout
    html = tmp_path / "edhr.html"
    done = run(tmp_path, "quality", "edhr", "SN-1", "--out", str(html))
    assert done.returncode == 0, done.stderr
    text = html.read_text()
    assert "(21)SN-1" in text and "DEV-CLI-1" in text and "RL-TUBE" in text
    assert "Migrated records" in text  # the migration's mark shows in the eDHR
    js = tmp_path / "edhr.json"
    assert run(tmp_path, "quality", "edhr", "B-ASSY", "--out", str(js), "--format",
               "json").returncode == 0
    dhr = orjson.loads(js.read_bytes())
    assert dhr["batch"]["key"] == "B-ASSY" and dhr["batch"]["migrated"] is True
    assert run(tmp_path, "quality", "release-report", "NOPE").returncode == 2
    zh = tmp_path / "edhr-zh.html"
    assert run(tmp_path, "quality", "edhr", "B-ASSY", "--out", str(zh), "--lang",
               "zh").returncode == 0
    text = zh.read_text()  # the ontology's Chinese labels, read here with rdflib
    assert '<html lang="zh-CN">' in text
    assert label("Deviation", "zh") in text and label("Batch", "zh") in text
    assert label(concept("DeviationStateScheme", "Open"), "zh") in text
    bad = run(tmp_path, "quality", "edhr", "B-ASSY", "--out", str(zh), "--lang", "fr")
    assert bad.returncode != 0 and "--lang='fr'" in bad.stderr and "Traceback" not in bad.stderr
