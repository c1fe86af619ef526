"""The FastAPI application: GraphQL at /graphql, the recall export, health at /health."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from strawberry.fastapi import GraphQLRouter

from api.schema import MAX_SEEDS, build_schema, context_for
from graph.recall import write_export
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
        yield
        if runtime is None:
            rt.close()

    app = FastAPI(title="tracegraph", version="0.1.0", lifespan=lifespan,
                  docs_url=None if production else "/docs",
                  openapi_url=None if production else "/openapi.json")

    async def context(request: Request) -> dict[str, Any]:
        return {**context_for(request.app.state.runtime), "request": request}

    app.include_router(
        GraphQLRouter(build_schema(production), context_getter=context,
                      graphql_ide=None if production else "graphiql"),
        prefix="/graphql")

    @app.get("/health")
    def health(request: Request) -> dict[str, Any]:
        rt: Runtime = request.app.state.runtime
        return {"status": "ok", "store": rt.store.engine, "watermark": rt.store.watermark()}

    @app.post("/api/recall", responses={200: {"content": {"application/zip": {}}}})
    def recall_export(body: RecallRequest, request: Request) -> Response:
        """The recall files (CSV per list + recall.json) for the seeds, as one zip."""
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

    return app
