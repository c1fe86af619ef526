"""The FastAPI application: GraphQL at /graphql, the recall export, health at /health."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from starlette.requests import HTTPConnection
from strawberry.fastapi import GraphQLRouter

from api.auth import (
    Unauthorized,
    auth_error_status,
    authorize,
    issue_token,
    server_secret,
    user_from_token,
)
from api.edhr_routes import router as edhr_router
from api.epcis import router as epcis_router
from api.explorer_app import mount_explorer
from api.graphql import build_schema
from api.schema import MAX_SEEDS, context_for
from graph.recall import write_export
from quality.accounts import AuthError, User, authenticate
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings, settings

__all__ = ["create_app"]


class RecallRequest(BaseModel):
    seeds: list[str] = Field(min_length=1, max_length=MAX_SEEDS)


def create_app(cfg: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    s = cfg or settings()
    production = s.env == "production"

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.open(s)
        app.state.runtime = rt
        app.state.secret = server_secret(s)
        bridge = None
        if s.mqtt_host:  # QC notifications from signal consumers in other processes
            from quality.notify import NotificationBridge, hub

            bridge = NotificationBridge(s.mqtt_host, s.mqtt_port, hub)
        app.state.notification_bridge = bridge
        yield
        if bridge is not None:
            bridge.close()
        if runtime is None:
            rt.close()

    app = FastAPI(title="tracegraph", version="0.1.0", lifespan=lifespan,
                  docs_url=None if production else "/docs",
                  openapi_url=None if production else "/openapi.json")

    def current_user(request: HTTPConnection) -> User | None:
        return user_from_token(request.app.state.runtime, request.app.state.secret,
                               request.headers.get("authorization"))

    async def context(request: HTTPConnection) -> dict[str, Any]:  # HTTP and websockets
        return {**context_for(request.app.state.runtime), "request": request,
                "user": current_user(request)}

    @app.post("/auth/token")
    def token(request: Request,
              form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
        """OAuth2 password flow: a bearer token for the account (failures count to lockout)."""
        try:
            user = authenticate(request.app.state.runtime, form.username, form.password)
        except AuthError as e:
            raise HTTPException(auth_error_status(e), {"code": e.code, "field": e.field,
                                                       "message": str(e)},
                                headers={"WWW-Authenticate": "Bearer"}) from None
        return issue_token(user, request.app.state.secret)

    app.include_router(
        GraphQLRouter(build_schema(production), context_getter=context,
                      graphql_ide=None if production else "graphiql"),
        prefix="/graphql")

    app.include_router(epcis_router)
    app.include_router(edhr_router)

    @app.get("/health")
    def health(request: Request) -> dict[str, Any]:
        rt: Runtime = request.app.state.runtime
        return {"status": "ok", "store": rt.store.engine, "watermark": rt.store.watermark()}

    @app.post("/api/recall", responses={200: {"content": {"application/zip": {}}}})
    def recall_export(body: RecallRequest, request: Request) -> Response:
        """The recall files (CSV per list + recall.json) for the seeds, as one zip."""
        try:
            authorize("POST /api/recall", current_user(request))
        except Unauthorized as e:
            raise HTTPException(401 if e.code == "UNAUTHENTICATED" else 403,
                                {"code": e.code, "message": e.message}) from None
        rt: Runtime = request.app.state.runtime
        answer = rt.recall(body.seeds, unit_limit=0)
        if not answer.seeds:
            raise HTTPException(404, {"code": "NOT_FOUND", "field": "seeds",
                                      "message": "no seed matched a node",
                                      "unknownSeeds": answer.unknown_seeds})
        buf = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buf, "w",
                                                                   zipfile.ZIP_DEFLATED) as z:
            for path in write_export(answer, Path(tmp)).values():
                z.write(path, path.name)
        name = f"recall-w{answer.watermark}.zip"
        return Response(buf.getvalue(), media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    mount_explorer(app)
    return app
