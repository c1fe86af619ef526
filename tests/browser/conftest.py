"""Browser tests of the explorer page: the real app (``tracegraph demo`` on a free port, the demo
plant in a temporary data directory) driven in Debian's headless Chromium by Playwright.

Playwright's own browser download does not work here: the tests launch ``/usr/bin/chromium``
(``tools/debian-packages.txt``; ``make system-deps``). The page's graph library comes from
``make explorer`` (``tools/build-explorer``, run here when its files are missing). Without
Chromium or the front-end build the tests skip locally and fail under ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.routes.explorer import VENDOR
from tests.conftest import ROOT, _need_service
from tests.serving import answering, free_port

CHROMIUM = os.environ.get("TRACEGRAPH_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
PASSWORD = "explorer test password 2026"
SHOTS = ROOT / "test-output" / "explorer"


@dataclass
class Demo:
    url: str
    data_dir: Path


@pytest.fixture(scope="session")
def explorer_built() -> None:
    if not (VENDOR / ".built").exists():
        r = subprocess.run([str(ROOT / "tools" / "build-explorer")], capture_output=True,
                           text=True, check=False)
        if r.returncode != 0:
            _need_service(f"the explorer front-end build (make explorer): {r.stderr[-500:]}")


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory, explorer_built: None) -> Iterator[Demo]:
    data = tmp_path_factory.mktemp("explorer-demo")
    port = free_port()
    env = {**os.environ, "TRACEGRAPH_DATA_DIR": str(data), "TRACEGRAPH_STORE": "embedded",
           "TRACEGRAPH_PORT": str(port), "TRACEGRAPH_DEMO_PASSWORD": PASSWORD}
    exe = Path(sys.executable).with_name("tracegraph")
    log = (data / "server.log").open("w")
    proc = subprocess.Popen([str(exe), "demo"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        answering(proc, url, data / "server.log", 300)
        yield Demo(url, data)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the browser tests, closed when they are done: Playwright's sync API
    keeps an asyncio loop running in this thread, so it must not outlive tests/browser (the
    OPC UA and MQTT tests after it run their own loops)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _need_service(f"Chromium at {CHROMIUM} (apt-get install chromium; make system-deps)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@contextmanager
def signed_in_page(browser: Any, url: str, username: str, password: str,
                   view: str = "trace", viewport: tuple[int, int] = (1366, 860),
                   expected_errors: tuple[str, ...] = ()) -> Iterator[Any]:
    """A page of the explorer at ``url`` signed in as ``username`` on a laptop-sized screen
    (or ``viewport``: width, height), on ``view`` (``""``: the page as it opens, the "My work"
    home page); fails on any console error but those containing one of ``expected_errors``
    (the browser's own report of a refused connection while a test has stopped the server)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                              accept_downloads=True)
    try:
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
              if m.type == "error" and not any(x in m.text for x in expected_errors) else None)
        pg.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        pg.set_default_timeout(15_000)
        pg.goto(f"{url}/explorer" + (f"#/{view}" if view else ""))
        pg.fill("#signin input[name=username]", username)
        pg.fill("#signin input[name=password]", password)
        pg.click("#signin button[type=submit]")
        pg.wait_for_selector(f"#{view.split('/')[0] or 'work'}-view:not([hidden])")
        yield pg
    finally:
        ctx.close()
    assert errors == [], errors


@pytest.fixture
def page(browser: Any, demo: Demo) -> Iterator[Any]:
    """A signed-in page on the demo plant; the test fails on any console error."""
    with signed_in_page(browser, demo.url, "demo.qa", PASSWORD) as pg:
        yield pg


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
