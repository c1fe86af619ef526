"""GraphiQL at /graphql in headless Chromium: it loads with no request outside the server (an
air-gapped plant reaches no CDN) and, signed in through the explorer in the same tab, has the
schema (docs and autocomplete come from introspection)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import PASSWORD, Demo, shot, signed_in_page

pytestmark = pytest.mark.browser


def test_graphiql_is_served_locally_and_introspects(browser: Any, demo: Demo) -> None:
    server = urlsplit(demo.url).netloc
    outside: list[str] = []
    introspected: list[bool] = []
    with signed_in_page(browser, demo.url, "demo.engineer", PASSWORD) as pg:
        pg.on("request", lambda r: outside.append(r.url)
              if urlsplit(r.url).scheme in ("http", "https", "ws", "wss")
              and urlsplit(r.url).netloc != server else None)

        def answered(resp: Any) -> None:
            if resp.request.method == "POST" and urlsplit(resp.url).path == "/graphql":
                body = resp.request.post_data or ""
                if "__schema" in body:
                    introspected.append("queryType" in resp.text() and resp.ok)

        pg.on("response", answered)
        pg.goto(f"{demo.url}/graphql")
        pg.wait_for_selector(".graphiql-container .graphiql-editors", timeout=30_000)
        pg.wait_for_function("() => document.querySelector('.graphiql-container') && "
                             "!document.body.innerText.includes('Loading...')")
        # the documentation explorer lists the schema's root types once introspection answered
        pg.click("button[aria-label='Show Documentation Explorer']")
        pg.wait_for_selector(".graphiql-doc-explorer >> text=Query", timeout=30_000)
        shot(pg, "graphiql")
    assert outside == [], outside
    assert introspected and all(introspected), introspected
