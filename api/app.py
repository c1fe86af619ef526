"""The FastAPI application, assembled: the runtime's lifespan, GraphQL at /graphql
(:mod:`api.graphql`), the REST routes (:mod:`api.routes`) and the explorer page."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.requests import HTTPConnection

from api.auth import server_secret
from api.bodies import BodyLimits
from api.deps import CurrentUser, RuntimeDep
from api.graphql import build_schema
from api.graphql.types import context_for
from api.graphql.view import GraphQLView
from api.routes import auth, edhr, epcis, formatting, health, integration, recall
from api.routes.explorer import mount_explorer
from tracegraph.integration import start_dispatcher
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings, settings

__all__ = ["create_app"]


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
        dispatcher = start_dispatcher(rt)  # integration events to the webhooks
        # a server's own runtime: what start-up built (vocabulary, shapes, schema, indexes) lives
        # as long as the server, kept out of the collector's full passes, which otherwise rescan
        # it while answers are built (a 1,000-node page allocates enough to trigger several).
        # Not for an app over a runtime it was given (tests, embedding): a full collection of
        # that process's heap at every start costs more than it saves there.
        if runtime is None:
            gc.collect()
            gc.freeze()
        yield
        if runtime is None:
            gc.unfreeze()  # (a process that starts apps again leaks no cycles)
        if dispatcher is not None:
            dispatcher.stop()
        if bridge is not None:
            bridge.close()
        if runtime is None:
            rt.close()

    app = FastAPI(title="tracegraph", version="0.1.0", lifespan=lifespan,
                  docs_url=None if production else "/docs",
                  openapi_url=None if production else "/openapi.json")

    async def context(request: HTTPConnection, rt: RuntimeDep,
                      user: CurrentUser) -> dict[str, Any]:  # HTTP and websockets
        return {**context_for(rt), "request": request, "user": user}

    app.include_router(auth.router)
    app.include_router(
        GraphQLView(build_schema(production), context_getter=context,
                      graphql_ide=None if production else "graphiql"),
        prefix="/graphql")
    app.include_router(epcis.router)
    app.include_router(edhr.router)
    app.include_router(health.router)
    app.include_router(recall.router)
    app.include_router(integration.router)
    app.include_router(formatting.router)
    mount_explorer(app)
    app.add_middleware(BodyLimits, max_request_bytes=s.max_request_bytes,
                       max_upload_bytes=s.max_upload_bytes, max_json_depth=s.max_json_depth)
    return app
