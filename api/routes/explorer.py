"""The explorer web page: static files under ``api/explorer`` served at ``/explorer``.

The page holds no data of its own: it signs in (``POST /auth/token``), keeps the bearer token in
``sessionStorage`` and reads everything through ``/graphql`` and ``/api/recall``, so the static
files need no authorization rule. Its graph library is built into ``api/explorer/vendor`` by
``make explorer`` (``tools/build-explorer``: ``npm ci`` from ``explorer/package-lock.json``).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC", "VENDOR", "mount_explorer"]

STATIC = Path(__file__).resolve().parent.parent / "explorer"
VENDOR = STATIC / "vendor"


def mount_explorer(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:  # a browser at the server's address lands on the page
        return RedirectResponse("/explorer/")

    @app.get("/explorer", include_in_schema=False)
    def explorer_root() -> RedirectResponse:
        return RedirectResponse("/explorer/")

    app.mount("/explorer/", StaticFiles(directory=STATIC, html=True, check_dir=False),
              name="explorer")
