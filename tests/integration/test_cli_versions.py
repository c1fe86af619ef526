"""``tracegraph diff`` and ``tracegraph impact`` on the demo plant (embedded store)."""

from __future__ import annotations

from pathlib import Path

import orjson

from bench.plant import generate_plant
from tests.integration.test_cli import migrate, run, write_docs


def test_diff_and_impact_commands(tmp_path: Path) -> None:
    f = write_docs(tmp_path, list(generate_plant(size="demo", seed=7)))
    assert migrate(tmp_path, f).returncode == 0  # the plant's history: a signed migration
    d = run(tmp_path, "diff", "CATH-ASSY/v1", "CATH-ASSY/v2")
    assert d.returncode == 0, d.stderr
    assert "~ changed parameter OP20/parameter/UV-DOSE: lsl 1800.0 → 2000.0" in d.stdout
    assert "+ added characteristic OP40/plan/HUB-PULL" in d.stdout
    js = run(tmp_path, "diff", "CATH-ASSY/v1", "CATH-ASSY/v2", "--json")
    assert {"change": "changed", "kind": "parameter", "path": "OP20/parameter/UV-DOSE",
            "field": "lsl", "old": 1800.0, "new": 2000.0} in orjson.loads(js.stdout)
    i = run(tmp_path, "impact", "CATH-ASSY/v1/OP20/UV-DOSE", "--paths")
    assert i.returncode == 0, i.stderr
    assert "wip-batch" in i.stdout and "released-batch" in i.stdout
    assert "CATH-ASSY/v1/OP20/UV-DOSE → CATH-ASSY/v1/OP20" in i.stdout
    assert "built under the affected versions:" in i.stdout
    bad = run(tmp_path, "diff", "CATH-ASSY/v1", "NO-SUCH")
    assert bad.returncode == 2 and "NO-SUCH" in bad.stderr
