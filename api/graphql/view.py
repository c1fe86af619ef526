"""The GraphQL HTTP endpoint: strawberry's FastAPI router, with each query or mutation
executed off the event loop (parsing, validation, resolvers and the completion of large answers
run in a worker thread with its own loop, so one heavy request cannot stall the others or the
websocket subscriptions) and JSON read and written with orjson (bodies were checked strictly by
:class:`api.bodies.BodyLimits` before they got here)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import orjson
from strawberry.fastapi import GraphQLRouter
from strawberry.types import ExecutionResult

__all__ = ["GraphQLView"]


class GraphQLView(GraphQLRouter[Any, None]):
    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        work = super().execute_single(*args, **kwargs)
        return await anyio.to_thread.run_sync(asyncio.run, work)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()  # text: websocket messages must be text frames
