"""The GraphQL HTTP endpoint: strawberry's FastAPI router, with each query or mutation
executed off the event loop (parsing, validation, resolvers and the completion of large answers
run in a worker thread with its own loop, so one heavy request cannot stall the others or the
websocket subscriptions) and JSON read and written with orjson (bodies were checked strictly by
:class:`api.bodies.BodyLimits` before they got here)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import anyio
import orjson
from strawberry.fastapi import GraphQLRouter
from strawberry.types import ExecutionResult

__all__ = ["CDN_ASSET", "GraphQLView", "local_graphiql"]

#: an asset of strawberry's GraphiQL page on the CDN: package (scoped or not), version, path
CDN_ASSET = re.compile(r"https://unpkg\.com/((?:@[\w.-]+/)?[\w.-]+)@([\w.-]+)/([\w./-]+)")
_HEADERS = "const defaultHeaders = {};"
_TOKEN = ("const defaultHeaders = {};\n      const signedIn = JSON.parse("
          "sessionStorage.getItem(\"tracegraph.token\") || \"null\");\n"
          "      if (signedIn) defaultHeaders.Authorization = "
          "\"Bearer \" + signedIn.access_token;")


def local_graphiql(html: str) -> str:
    """Strawberry's GraphiQL page, loading its assets from this server and sending the
    explorer's token."""
    if _HEADERS not in html:  # strawberry changed its page: fail loudly, not silently
        raise RuntimeError("GraphiQL page without defaultHeaders: update api/graphql/view.py")
    return CDN_ASSET.sub(r"/explorer/vendor/unpkg/\1/\3", html).replace(_HEADERS, _TOKEN)


class GraphQLView(GraphQLRouter[Any, None]):
    @property
    def graphql_ide_html(self) -> str:
        return local_graphiql(super().graphql_ide_html)

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        work = super().execute_single(*args, **kwargs)
        return await anyio.to_thread.run_sync(asyncio.run, work)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()  # text: websocket messages must be text frames
