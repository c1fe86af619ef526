"""``tracegraph validation run``'s parts: the IQ re-hashes the installed files against the wheel
RECORD, the PQ runs the plant's checks, the plugin records each req-marked result from a real
pytest run, and the report names every deviation and prints to PDF."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import subprocess
import sys
from importlib.metadata import PathDistribution
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT
from tracegraph.validation.report import complete, oq_document, render_html
from tracegraph.validation.run import _files, performance


def _record_line(path: Path, name: str) -> str:
    d = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest()).rstrip(b"=")
    return f"{name},sha256={d.decode()},{path.stat().st_size}"


@pytest.mark.req("URS-VAL-01")
def test_iq_rehashes_every_file_of_the_record_and_names_a_changed_or_missing_one(
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "pkg").mkdir(parents=True)
    info = site / "pkg-1.0.dist-info"
    info.mkdir()
    for n in ("a.py", "b.py", "c.py"):
        (site / "pkg" / n).write_text(f"X = {n!r}\n")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
    lines = [_record_line(site / "pkg" / n, f"pkg/{n}") for n in ("a.py", "b.py", "c.py")]
    lines += [_record_line(info / "METADATA", "pkg-1.0.dist-info/METADATA"),
              "pkg-1.0.dist-info/RECORD,,"]
    (info / "RECORD").write_text("\n".join(lines) + "\n")
    facts, bad = _files(PathDistribution(info))
    assert (facts["listed"], facts["verified"], facts["differ"]) == (5, 4, 0) and bad == []
    (site / "pkg" / "b.py").write_text("X = 'patched'\n")
    (site / "pkg" / "c.py").unlink()
    facts, bad = _files(PathDistribution(info))
    assert facts["verified"] == 2 and facts["differ"] == 2
    assert {(d["item"], d["actual"]) for d in bad} == {("pkg/b.py", "differs"),
                                                       ("pkg/c.py", "missing")}


@pytest.mark.req("URS-VAL-01")
def test_pq_runs_the_plants_checks_on_the_configured_store(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setenv("TRACEGRAPH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pq = tmp_path / "pq.toml"
    pq.write_text('[[check]]\nname = "audit verifies"\ncommand = ["audit", "verify"]\n'
                  'expect_text = "audit trail verified"\n\n'
                  '[[check]]\nname = "a batch nobody made"\n'
                  'command = ["quality", "release-report", "B-NOPE"]\nexpect_exit = 0\n')
    doc = performance(pq)
    assert [c["result"] for c in doc["checks"]] == ["passed", "failed"]
    assert doc["checks"][1]["exit"] == 2
    assert [d["item"] for d in doc["deviations"]] == ["a batch nobody made"]
    assert doc["sha256"] == hashlib.sha256(pq.read_bytes()).hexdigest()


@pytest.mark.req("URS-VAL-01")
def test_the_plugin_records_each_result_of_a_real_run_and_quick_runs_one_per_requirement(
        tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_some.py").write_text(
        "import pytest\n\n"
        '@pytest.mark.req("URS-REC-04")\ndef test_ok() -> None:\n    assert True\n\n'
        '@pytest.mark.req("URS-REC-04", "URS-SEC-01")\ndef test_bad() -> None:\n'
        "    assert 1 == 2\n\n"
        '@pytest.mark.req("URS-SEC-01")\ndef test_skip() -> None:\n    pytest.skip("no")\n\n'
        "def test_unmarked() -> None:\n    pass\n")
    (tmp_path / "tests" / "test_broken.py").write_text("import no_such_module_here\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run(*extra: str) -> tuple[str, dict[str, object]]:
        out = tmp_path / "out"
        p = subprocess.run([sys.executable, "-m", "pytest", "tests", "-q", "-p",
                            "no:cacheprovider", "-p", "tracegraph.validation.plugin",
                            "--trace-matrix", str(out), "--continue-on-collection-errors",
                            *extra], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
        return p.stdout, orjson.loads((out / "trace-matrix.json").read_bytes())

    stdout, doc = run()
    outcome = {t["test"].split("::")[1]: t["outcome"] for t in doc["oq"]["tests"]}  # type: ignore[index]  # JSON
    assert outcome == {"test_ok": "passed", "test_bad": "failed", "test_skip": "skipped"}
    matrix = {m["requirement"]: m["result"] for m in doc["matrix"]}  # type: ignore[index]  # JSON
    assert matrix["URS-REC-04"] == "failed" and matrix["URS-SEC-01"] == "failed"
    assert matrix["URS-VAL-01"] == "not verified"
    assert "3 requirement tests: 1 passed, 1 failed, 1 skipped" in stdout
    broken = [d for d in doc["deviations"] if d["item"] == "tests/test_broken.py"]  # type: ignore[union-attr]  # JSON
    assert broken and "no_such_module_here" in broken[0]["detail"]
    stdout, doc = run("--req-quick")
    assert sorted(t["test"].split("::")[1] for t in doc["oq"]["tests"]) == [  # type: ignore[index]  # JSON
        "test_bad", "test_ok"]
    stdout, doc = run("--req-quick", "-k", "not test_ok")  # deselected tests are not listed
    assert [t["test"].split("::")[1] for t in doc["oq"]["tests"]] == ["test_bad"]  # type: ignore[index]  # JSON


def _results() -> list[dict[str, object]]:
    return [{"test": "tests/a.py::test_1", "requirements": ["URS-VAL-01"], "outcome": "passed",
             "seconds": 0.5, "message": ""},
            {"test": "tests/a.py::test_2", "requirements": ["URS-ACC-01"], "outcome": "failed",
             "seconds": 0.1, "message": "AssertionError: 403 != 200"}]


@pytest.mark.req("URS-VAL-01")
def test_the_report_lists_each_deviation_and_its_counts() -> None:
    doc = oq_document(_results(), {"tracegraph": "0.1.0"})
    assert doc["counts"]["tests"] == 2 and doc["counts"]["passed"] == 1
    assert doc["counts"]["requirementsVerified"] == 1
    devs = {(d["section"], d["item"], d["actual"]) for d in doc["deviations"]}
    assert ("OQ", "tests/a.py::test_2", "failed") in devs and ("OQ", "URS-ACC-01", "failed") in devs
    assert ("OQ", "URS-REC-03", "not verified") in devs and doc["outcome"] == "deviations"
    iq_dev = {"section": "IQ", "item": "numpy", "expected": "numpy==2.4.6", "actual": "2.4.5",
              "detail": ""}
    full = complete(doc, {"deviations": [iq_dev]}, {"checks": [], "deviations": []})
    assert full["deviations"][0] == iq_dev and full["kind"] == "validation run"
    html = render_html(full, {"number": "VAL-1", "hash": "ab" * 32,
                              "signatures": ["Signed by Q A (q.a) on … — approved"]})
    for text in ("URS-ACC-01", "tests/a.py::test_2", "403 != 200", "VAL-1", "Signed by Q A",
                 "21 CFR 11.10(a)", "医疗器械唯一标识系统规则"):
        assert text in html


@pytest.mark.browser
@pytest.mark.req("URS-VAL-01", "URS-REC-02")
def test_the_report_prints_to_pdf_with_its_matrix() -> None:
    from pypdf import PdfReader

    from quality.edhr import PdfUnavailable, render_pdf

    doc = oq_document(_results(), {"tracegraph": "0.1.0"})
    try:
        pdf = render_pdf(render_html(doc))
    except PdfUnavailable:
        from tests.conftest import _need_service
        _need_service("headless Chromium (Debian package chromium)")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "URS-ACC-01" in text and "tracegraph validation report" in text
