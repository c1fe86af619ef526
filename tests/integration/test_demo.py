"""`tracegraph demo` (what `make demo` runs) loads the demo plant and serves it over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serving import answering, free_port

EXE = Path(sys.executable).with_name("tracegraph")


def demo_env(data_dir: Path, port: int) -> dict[str, str]:
    return {**os.environ, "TRACEGRAPH_DATA_DIR": str(data_dir), "TRACEGRAPH_STORE": "embedded",
            "TRACEGRAPH_PORT": str(port), "TRACEGRAPH_DEMO_PASSWORD": "demo password 2026"}


def a_store(path: Path) -> bytes:
    """A user's own store in the default place, the demo must leave it byte for byte."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE batch (id TEXT PRIMARY KEY, status TEXT)")
        db.execute("INSERT INTO batch VALUES ('B-1', 'Released')")
    db.close()
    return hashlib.sha256(path.read_bytes()).digest()


def test_demo_serves_the_loaded_plant(tmp_path: Path) -> None:
    port = free_port()
    env = demo_env(tmp_path, port)
    mine = a_store(tmp_path / "tracegraph.sqlite")
    log = tmp_path / "demo.log"
    with log.open("w") as printed:
        proc = subprocess.Popen([str(EXE), "demo"], env=env, stdout=printed,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        answering(proc, url, log, 300)
        health = httpx.get(f"{url}/health").json()
        assert health["store"] == "embedded" and health["watermark"] > 0
        tok = httpx.post(f"{url}/auth/token", data={"username": "demo.engineer",
                                                     "password": "demo password 2026"}).json()
        auth = {"Authorization": f"Bearer {tok['access_token']}"}
        units = httpx.post(f"{url}/graphql", headers=auth, json={"query": """
            { stats { label count } }"""}).json()["data"]["stats"]
        counts = {s["label"]: s["count"] for s in units}
        assert counts["SerializedUnit"] > 1000 and counts["Shipment"] > 0
        # the README's query answers on the demo plant: a unit's upstream reaches supplier lots
        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
        query = re.search(r"```graphql\n(.*?)```", readme, re.S).group(1)  # type: ignore[union-attr]  # the README has a graphql block
        g = httpx.post(f"{url}/graphql", headers=auth,
                       json={"query": query}).json()["data"]["genealogy"]
        classes = {n["node"]["class"] for n in g["nodes"]}
        assert {"SerializedUnit", "Batch", "MaterialLot"} <= classes, classes
        readme_examples_run_against_the_demo(url)
        # a browser at the server's address lands on the explorer
        home = httpx.get(f"{url}/", follow_redirects=False)
        assert home.status_code in (302, 307) and home.headers["location"] == "/explorer/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = log.read_text()
    assert f"{url}/graphql" in out  # the URL was printed for the user
    assert f"{url}/explorer/" in out  # and the explorer page
    assert "demo.engineer" in out and "demo password 2026" in out  # and how to sign in
    # "up" is said once the server answers: after everything the load printed
    assert out.index("tracegraph demo is up") > out.index("demo plant loaded")
    # the demo lives in its own directory; the store in the default place is untouched
    assert (tmp_path / "demo" / "tracegraph.sqlite").exists()
    assert hashlib.sha256((tmp_path / "tracegraph.sqlite").read_bytes()).digest() == mine
    # a second run without --reset refuses (the demo store is not silently regenerated)
    again = subprocess.run([str(EXE), "demo", "--no-serve"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 2 and "--reset" in again.stderr, again
    assert hashlib.sha256((tmp_path / "tracegraph.sqlite").read_bytes()).digest() == mine


def readme_examples_run_against_the_demo(url: str) -> None:
    """The README's capture document and EPCIS curl block, as written, against the demo."""
    from tests.integration.test_readme import block

    op = httpx.post(f"{url}/auth/token", data={"username": "demo.operator",
                                               "password": "demo password 2026"}).json()
    auth = {"Authorization": f"Bearer {op['access_token']}"}
    mutation = """mutation($d: JSON!) { capture(document: $d) {
        ok eventsWritten problems { rule field value } } }"""

    def capture(doc: object) -> dict[str, object]:
        r = httpx.post(f"{url}/graphql", headers=auth, timeout=60,
                       json={"query": mutation, "variables": {"d": doc}}).json()
        return r["data"]["capture"]  # type: ignore[no-any-return]  # JSON answer

    doc = json.loads(block("json", "tracegraph.capture/1"))
    assert capture(doc) == {"ok": True, "eventsWritten": 2, "problems": []}
    assert capture(doc)["eventsWritten"] == 0  # re-sent: nothing new
    early = capture({"format": "tracegraph.capture/1", "events": [{
        "eventId": "too-early", "derivations": [{
            "kind": "consumption", "output": "Batch/MC26011001",
            "input": "MaterialLot/RL-PP-0002", "quantity": 1.5, "unit": "kg"}]}]})
    # as the README says: not before QC approves it (and never into a released batch)
    assert {p["rule"] for p in early["problems"]} == {"lot-approved", "batch-closed"}  # type: ignore[attr-defined]  # list of dicts
    script = block("bash", "POST $TG/events").replace("TG=http://127.0.0.1:8000", f"TG={url}")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True,
                         text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
                         env={**os.environ, "PASSWORD": "demo password 2026"})
    assert run.returncode == 0, run.stderr
    assert '"captured":2' in run.stdout and '"captured":1' in run.stdout


def test_demo_refuses_a_taken_port_before_loading(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run([str(EXE), "demo"], env=demo_env(tmp_path, port),
                           capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert f"port {port}" in r.stderr and "taken" in r.stderr
    assert "up" not in r.stdout and not (tmp_path / "demo").exists()  # nothing loaded


def test_demo_never_empties_a_directory_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    precious = tmp_path / "demo" / "tracegraph.sqlite"
    mine = a_store(precious)
    r = subprocess.run([str(EXE), "demo", "--reset", "--no-serve"],
                       env=demo_env(tmp_path, free_port()), capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "not a tracegraph demo directory" in r.stderr
    assert hashlib.sha256(precious.read_bytes()).digest() == mine


def test_serve_prints_its_start_up_time(tmp_path: Path) -> None:
    """``tracegraph serve`` says where it serves and how long it took to answer (issue 16:
    serve start-up time printed), once the server answers, not before."""
    port = free_port()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(tmp_path), "TRACEGRAPH_STORE": "embedded"}
    log = tmp_path / "serve.log"
    with log.open("w") as printed:
        proc = subprocess.Popen([str(EXE), "serve", "--port", str(port)], env=env,
                                stdout=printed, stderr=subprocess.STDOUT)
    try:
        answering(proc, f"http://127.0.0.1:{port}", log, 120)
        deadline = time.monotonic() + 30
        while "start-up:" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)  # (printed by the announcer once /health answered)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    out = log.read_text()
    found = re.search(r"start-up: (\d+\.\d\d) s", out)
    assert found, out
    assert 0 < float(found.group(1)) < 120
    assert out.index(f"serving on http://127.0.0.1:{port}/graphql") < found.start()
