"""``tracegraph validation run``: the qualification of the installed system.

- :func:`installation` (IQ): the installed tracegraph distribution and every file its wheel
  RECORD lists, re-hashed (SHA-256) and compared; each dependency's installed version against the
  pinned one; Python, platform, SQLite and Chromium versions; the configuration (secrets shown as
  set or not); the schema version of a scratch store this tracegraph creates and of the configured
  store.
- :func:`operational` (OQ): the ``req``-marked tests, run with pytest on the installed packages
  against scratch stores: the tests are copied from a tracegraph source tree of the same version
  (``--source``: the sdist or the git tag; the wheel does not ship them) into a scratch directory
  without the source packages, so every import is the installed one; the plugin
  (:mod:`tracegraph.validation.plugin`) writes the trace matrix from the results.
- :func:`performance` (PQ): the plant's own checks on its own data, a TOML file of
  ``[[check]]`` entries (``name``, ``command`` = tracegraph arguments, ``expect_exit``,
  ``expect_text``), run against the configured store.
"""

from __future__ import annotations

import base64
import hashlib
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson

from graph.schema import SCHEMA_VERSION
from tracegraph.settings import Settings

__all__ = ["SERVICE_MARKERS", "ValidationSetupError", "find_source", "installation",
           "operational", "performance"]

Json = dict[str, Any]
#: markers of tests that need a service; excluded from the OQ unless ``--with`` names them
SERVICE_MARKERS = ("neo4j", "browser", "mqtt", "opcua")
_SECRETS = {"neo4j_password", "secret_key", "webhook_secret"}
_COPIED = ("tests", "pyproject.toml", "README.md", "CHANGELOG.md", "schema.graphql", "examples",
           "docs")


class ValidationSetupError(ValueError):
    """The run cannot start: ``field``, ``value`` and the rule in the message."""

    def __init__(self, field: str, value: object, message: str) -> None:
        super().__init__(f"{field}={value!r}: {message}")
        self.field, self.value = field, value


def _dev(section: str, item: str, expected: str, actual: str, detail: str = "") -> Json:
    return {"section": section, "item": item, "expected": expected, "actual": actual,
            "detail": detail}


# -- IQ ----------------------------------------------------------------------------------------
def _record_hash(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _files(dist: metadata.Distribution) -> tuple[Json, list[Json]]:
    listed = list(dist.files or [])
    ok = unhashed = 0
    bad: list[Json] = []
    for f in listed:
        if f.hash is None:
            unhashed += 1  # RECORD itself, and files written at install time (.pyc)
            continue
        path = Path(str(f.locate()))
        if not path.is_file():
            bad.append(_dev("IQ", str(f), "installed", "missing"))
        elif _record_hash(path) != f"{f.hash.mode}={f.hash.value}":
            bad.append(_dev("IQ", str(f), "SHA-256 as in RECORD", "differs"))
        else:
            ok += 1
    record = next((f for f in listed if str(f).endswith(".dist-info/RECORD")), None)
    direct = dist.read_text("direct_url.json")
    editable = bool(direct and orjson.loads(direct).get("dir_info", {}).get("editable"))
    facts = {"listed": len(listed), "verified": ok, "notHashed": unhashed, "differ": len(bad),
             "recordSha256": hashlib.sha256(Path(str(record.locate())).read_bytes()).hexdigest()
             if record else "", "editableInstall": editable}
    if editable:
        bad.append(_dev("IQ", "installation", "installed from a wheel (files in RECORD)",
                        "editable install", "the package files are a source tree; RECORD holds "
                        "no checksums of them"))
    return facts, bad


_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)\s*==\s*([^\s;,]+)\s*$")


def _dependencies(dist: metadata.Distribution) -> tuple[list[Json], list[Json]]:
    rows: list[Json] = []
    bad: list[Json] = []
    for spec in dist.requires or []:
        if "extra ==" in spec:
            continue
        m = _PIN.match(spec.split(";")[0])
        name = m.group(1) if m else re.split(r"[<>=!~ \[;]", spec, maxsplit=1)[0]
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
        ok = installed != "missing" and (m is None or installed == m.group(2))
        rows.append({"name": name, "required": spec, "installed": installed,
                     "result": "passed" if ok else "failed"})
        if not ok:
            bad.append(_dev("IQ", name, spec, installed))
    return rows, bad


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        return "not installed (no PDF)"
    try:
        return subprocess.run([exe, "--version"], capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unusable: {e}"


def _store_facts(path: Path) -> Json:
    if not path.is_file():
        return {"path": str(path), "exists": False}
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        meta = dict(con.execute("SELECT k, v FROM meta").fetchall())
        entries = int(con.execute("SELECT count(*) FROM audit").fetchone()[0])
    finally:
        con.close()
    return {"path": str(path), "exists": True, "schemaVersion": int(meta.get("schema_version", 0)),
            "storeId": meta.get("store_id", ""), "watermark": int(meta.get("last_tx", 0)),
            "auditEntries": entries}


def installation(cfg: Settings, scratch: Path) -> Json:
    """The IQ section, with its deviations."""
    from tracegraph.runtime import Runtime

    dist = metadata.distribution("tracegraph")
    files, bad = _files(dist)
    deps, dep_bad = _dependencies(dist)
    config = {k: ("(set)" if v else "(not set)") if k in _SECRETS else str(v)
              for k, v in cfg.model_dump().items()}
    scratch_cfg = Settings(data_dir=scratch / "iq-store", store="embedded")
    scratch_cfg.data_dir.mkdir(parents=True, exist_ok=True)
    Runtime.open(scratch_cfg).close()
    store: Json = {"engine": cfg.store, "schemaVersionOfThisRelease": SCHEMA_VERSION,
                   "scratchStore": _store_facts(scratch_cfg.sqlite_path)}
    if cfg.store == "embedded":
        store["configuredStore"] = _store_facts(cfg.sqlite_path)
    else:
        store["configuredStore"] = {"engine": "neo4j", "uri": str(cfg.neo4j_uri)}
    for name in ("scratchStore", "configuredStore"):
        v = store[name].get("schemaVersion")
        if v is not None and v != SCHEMA_VERSION:
            bad.append(_dev("IQ", f"{name} schema version", str(SCHEMA_VERSION), str(v)))
    return {"tracegraph": dist.version, "installedAt": str(Path(str(dist.locate_file("")))),
            "python": sys.version.split()[0], "executable": sys.executable,
            "platform": platform.platform(), "host": socket.gethostname(),
            "sqlite": sqlite3.sqlite_version, "chromium": _chromium(), "files": files,
            "dependencies": deps, "configuration": config, "store": store,
            "deviations": bad + dep_bad}


# -- OQ ----------------------------------------------------------------------------------------
def find_source(given: Path | None) -> Path:
    """The source tree whose ``tests/`` are the OQ: ``given``, or the checkout the running
    tracegraph was imported from (development)."""
    import tracegraph

    root = given or Path(tracegraph.__file__).resolve().parents[1]
    if not ((root / "tests" / "conftest.py").is_file() and (root / "pyproject.toml").is_file()):
        raise ValidationSetupError("--source", str(root), "a tracegraph source tree (unpacked "
                                   "sdist or git checkout of the installed version) holding "
                                   "tests/ and pyproject.toml is needed for the OQ")
    return root


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def operational(source: Path, scratch: Path, out: Path, *, quick: bool = False,
                keyword: str | None = None, services: tuple[str, ...] = (),
                echo: bool = True) -> tuple[Json, list[Json]]:
    """Run the requirement tests of ``source`` on the installed packages; the run's trace
    matrix document and the OQ setup deviations."""
    suite = scratch / "suite"
    shutil.rmtree(suite, ignore_errors=True)
    suite.mkdir(parents=True)
    for name in _COPIED:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, suite / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.is_file():
            shutil.copy2(src, suite / name)
    shared = source.parent / "shared"  # reference data beside a checkout (GS1 dictionary)
    if shared.is_dir() and not (scratch / "shared").exists():
        (scratch / "shared").symlink_to(shared.resolve(), target_is_directory=True)
    excluded = [m for m in SERVICE_MARKERS if m not in services]
    marks = "req" + (f" and not ({' or '.join(excluded)})" if excluded else "")
    cmd = [sys.executable, "-m", "pytest", "tests", "-m", marks, "-p", "no:cacheprovider",
           "-o", "addopts=-ra --strict-markers -p tracegraph.validation.plugin",
           "--trace-matrix", str(out), "-q", "--continue-on-collection-errors"]
    cmd += ["--req-quick"] if quick else []
    cmd += ["-k", keyword] if keyword else []
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TRACEGRAPH_DATA_DIR"] = str(scratch / "oq-data")
    log = out / "oq-pytest.log"
    out.mkdir(parents=True, exist_ok=True)
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=suite, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            if echo:
                sys.stdout.write(line)
        proc.wait()
    matrix = out / "trace-matrix.json"
    if not matrix.is_file():
        raise ValidationSetupError("OQ", " ".join(cmd), f"pytest wrote no trace matrix (exit "
                                   f"{proc.returncode}); see {log}")
    doc: Json = orjson.loads(matrix.read_bytes())
    env_facts = doc["environment"]
    env_facts.update({"oqCommand": cmd, "oqExit": proc.returncode, "testsFrom": str(source),
                      "testsSha256": _tree_digest(source / "tests"),
                      "servicesExcluded": excluded})
    bad: list[Json] = []
    installed = Path(str(metadata.distribution("tracegraph").locate_file(""))).resolve()
    ran = Path(env_facts["tracegraphFrom"]).resolve()
    if ran.is_relative_to(suite.resolve()) or ran != installed:
        bad.append(_dev("OQ", "tested package", f"the installed tracegraph ({installed})",
                        str(ran)))
    src_version = tomllib.loads((source / "pyproject.toml").read_text())["project"]["version"]
    if src_version != metadata.version("tracegraph"):
        bad.append(_dev("OQ", "tests version", metadata.version("tracegraph"), src_version,
                        f"the tests of {source} are of another release"))
    return doc, bad


# -- PQ ----------------------------------------------------------------------------------------
def performance(pq_file: Path | None, timeout: float = 3600.0) -> Json:
    """The PQ section: the plant's checks of ``pq_file`` run against the configured store."""
    if pq_file is None:
        return {"checks": [], "deviations": [], "note": "No PQ checks were given (--pq FILE): "
                "the plant's performance qualification on its own data is not part of this run."}
    spec = tomllib.loads(pq_file.read_text(encoding="utf-8"))
    checks: list[Json] = []
    bad: list[Json] = []
    for i, c in enumerate(spec.get("check", [])):
        if not (isinstance(c.get("name"), str) and isinstance(c.get("command"), list)):
            raise ValidationSetupError(f"check #{i + 1}", c, "needs name and command (a list "
                                       "of tracegraph arguments)")
        cmd = [sys.executable, "-m", "tracegraph.cli", *map(str, c["command"])]
        expect_exit, expect_text = int(c.get("expect_exit", 0)), str(c.get("expect_text", ""))
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            code, output = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            code, output = -1, f"timed out after {timeout:.0f} s"
        ok = code == expect_exit and expect_text in output
        checks.append({"name": c["name"], "command": ["tracegraph", *map(str, c["command"])],
                       "expectedExit": expect_exit, "expectText": expect_text, "exit": code,
                       "output": output[-4000:], "result": "passed" if ok else "failed"})
        if not ok:
            bad.append(_dev("PQ", c["name"], f"exit {expect_exit}"
                            + (f" and {expect_text!r}" if expect_text else ""),
                            f"exit {code}", output[-400:]))
    return {"file": str(pq_file), "sha256": hashlib.sha256(pq_file.read_bytes()).hexdigest(),
            "checks": checks, "deviations": bad}
