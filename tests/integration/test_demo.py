"""`tracegraph demo` (what `make demo` runs) loads the demo plant and serves it over HTTP."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_the_loaded_plant(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(tmp_path), "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_PORT": str(port), "TRACEGRAPH_DEMO_PASSWORD": "demo password 2026"}
    exe = Path(sys.executable).with_name("tracegraph")
    proc = subprocess.Popen([str(exe), "demo"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
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
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert f"{url}/graphql" in out  # the URL was printed for the user
    assert f"{url}/explorer/" in out  # and the explorer page
    assert "demo.engineer" in out and "demo password 2026" in out  # and how to sign in
