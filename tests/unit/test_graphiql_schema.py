"""GraphiQL without a CDN, and the published schema: what a plant without internet access and a
client generating its types rely on."""

from __future__ import annotations

import json
import re

from strawberry.http.ides import get_graphql_ide_html

from api.graphql.publish import PUBLISHED, schema_text
from api.graphql.view import CDN_ASSET, local_graphiql
from tests.conftest import ROOT


def test_the_published_schema_is_current() -> None:
    assert PUBLISHED.read_text(encoding="utf-8") == schema_text(), (
        "schema.graphql is stale: run `python -m api.graphql.publish`")


def test_graphiql_loads_nothing_from_outside_the_server() -> None:
    cdn = get_graphql_ide_html(graphql_ide="graphiql")
    assets = CDN_ASSET.findall(cdn)
    assert len(assets) >= 5  # react, react-dom, graphiql js and css, the explorer plugin …
    page = local_graphiql(cdn)
    assert re.findall(r"""(?:src|href)="(https?:[^"]*)""", page) == []
    # each asset is served from the vendor folder make explorer fills from the pinned packages;
    # the pinned version is the one the page's integrity hash was made for
    pinned = json.loads((ROOT / "explorer" / "package.json").read_text())["dependencies"]
    build = (ROOT / "tools" / "build-explorer").read_text()
    for package, version, path in assets:
        assert pinned.get(package) == version, (package, version, pinned.get(package))
        assert f'src="/explorer/vendor/unpkg/{package}/{path}"' in page or \
            f'href="/explorer/vendor/unpkg/{package}/{path}"' in page
        assert f"{package}/{path}" in build, f"tools/build-explorer does not copy {package}/{path}"
    # the explorer's token (same tab) is sent, so docs and autocomplete work once signed in
    assert 'sessionStorage.getItem("tracegraph.token")' in page
