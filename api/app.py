"""The FastAPI application: GraphQL at /graphql, health at /health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from strawberry.fastapi import GraphQLRouter

from api.schema import schema
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings, settings

__all__ = ["create_app"]


def create_app(cfg: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    s = cfg or settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.open(s)
        app.state.runtime = rt
        yield
        if runtime is None:
            rt.close()

    app = FastAPI(title="tracegraph", version="0.1.0", lifespan=lifespan)

    async def context(request: Request) -> dict[str, Any]:
        return {"runtime": request.app.state.runtime, "request": request}

    dev = s.env == "development"
    app.include_router(
        GraphQLRouter(schema, context_getter=context, graphql_ide="graphiql" if dev else None),
        prefix="/graphql")

    @app.get("/health")
    def health(request: Request) -> dict[str, Any]:
        rt: Runtime = request.app.state.runtime
        return {"status": "ok", "store": rt.store.engine, "watermark": rt.store.watermark()}

    return app
