"""pytest plugin of the validation pack (loaded by ``-p tracegraph.validation.plugin``, in the
project's pytest ``addopts`` and by ``tracegraph validation run``).

- registers the ``req`` marker: ``@pytest.mark.req("URS-…", …)`` names the requirements a test
  verifies;
- ``--req-quick``: of the tests that carry ``req`` markers, run only the first of each
  requirement (a demonstration subset: every requirement once);
- ``--trace-matrix DIR``: records the result of every ``req``-marked test of this run and, at
  the end, writes ``DIR/trace-matrix.json`` and ``DIR/trace-matrix.html`` (requirement → clause →
  test → result, with the environment and the deviations) from the run's own results — the CI
  artefact, with no second run of the suite — and prints the counts.
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path
from typing import Any

import pytest

__all__ = ["OUTCOMES_FILE"]

OUTCOMES_FILE = "trace-matrix.json"


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tracegraph validation")
    g.addoption("--trace-matrix", metavar="DIR", default=None,
                help="write the requirement trace matrix of this run (JSON and HTML) into DIR")
    g.addoption("--req-quick", action="store_true", default=False,
                help="run only the first req-marked test of each requirement")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "req(*ids): the requirements (URS-…) the test verifies")
    config.pluginmanager.register(_Recorder(config), "tracegraph-trace-matrix")


def _reqs(item: pytest.Item) -> list[str]:
    return [str(a) for m in item.iter_markers("req") for a in m.args]


def _message(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2])[:500]
    return str(report.longreprtext or "")[-1500:]


class _Recorder:
    """Keeps the result of every req-marked test of the run."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.time()
        self.results: dict[str, dict[str, Any]] = {}

    @pytest.hookimpl(trylast=True)  # after -m / -k deselected: only the tests that will run
    def pytest_collection_modifyitems(self, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        if config.getoption("req_quick"):
            seen: set[str] = set()
            keep: list[pytest.Item] = []
            drop: list[pytest.Item] = []
            for item in items:
                new = set(_reqs(item)) - seen
                (keep if new else drop).append(item)
                seen |= new
            if drop:
                config.hook.pytest_deselected(items=drop)
                items[:] = keep
        for item in items:
            ids = _reqs(item)
            if ids:
                self.results[item.nodeid] = {"test": item.nodeid, "requirements": ids,
                                             "outcome": "not run", "seconds": 0.0,
                                             "message": ""}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # a module that cannot be collected: its tests did not run
            self.results[report.nodeid] = {"test": report.nodeid, "requirements": [],
                                           "outcome": "error", "seconds": 0.0,
                                           "message": str(report.longreprtext)[-1500:]}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        r = self.results.get(report.nodeid)
        if r is None:
            return
        r["seconds"] = round(r["seconds"] + report.duration, 3)
        if report.when == "call" or report.outcome != "passed":
            if report.failed:
                outcome = "failed" if report.when == "call" else "error"
            else:
                outcome = report.outcome
            if r["outcome"] in ("not run", "passed"):
                r["outcome"] = outcome
            if report.outcome != "passed" and not r["message"]:
                r["message"] = _message(report)

    def facts(self) -> dict[str, Any]:
        """What this run was: when, where, with which Python and tracegraph, selected how."""
        from importlib import metadata

        import tracegraph

        try:
            version = metadata.version("tracegraph")
        except metadata.PackageNotFoundError:
            version = "not installed"
        cfg = self.config
        return {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "python": sys.version.split()[0], "platform": platform.platform(),
                "tracegraph": version,
                "tracegraphFrom": str(Path(tracegraph.__file__).resolve().parent.parent),
                "pytest": pytest.__version__, "rootdir": str(cfg.rootpath),
                "args": [str(a) for a in cfg.invocation_params.args],
                "quick": bool(cfg.getoption("req_quick"))}

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int,
                                config: pytest.Config) -> None:
        out = config.getoption("trace_matrix")
        if out is None:
            return
        from tracegraph.validation.report import oq_document, summary_line, write_matrix

        doc = oq_document(list(self.results.values()), self.facts())
        paths = write_matrix(doc, Path(out))
        terminalreporter.write_line(summary_line(doc))
        terminalreporter.write_line(f"trace matrix: {', '.join(str(p) for p in paths)}")
