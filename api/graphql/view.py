"""The GraphQL HTTP endpoint: strawberry's FastAPI router, with each query or mutation
executed off the event loop (parsing, validation, resolvers and the completion of large answers
run in a worker thread with its own loop, so one heavy request cannot stall the others or the
websocket subscriptions) and JSON read and written with orjson (bodies were checked strictly by
:class:`api.bodies.BodyLimits` before they got here).

A browser cannot set headers on a websocket, so a subscriber may instead send its bearer token
in the ``connection_init`` payload (``{"Authorization": "Bearer …"}``, graphql-transport-ws);
the same check as the header's, and a token that names no active account closes the socket
(4403) rather than leaving a silent anonymous connection."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import anyio
import orjson
from fastapi import Response
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from api.auth import user_from_token

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

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        """The user of a websocket from its ``connection_init`` payload, when no
        ``Authorization`` header signed it in (browsers)."""
        params = context.get("connection_params") or {}
        token = params.get("Authorization") if isinstance(params, dict) else None
        if context.get("user") is None and token is not None:
            app = context["request"].app
            user = user_from_token(app.state.runtime, app.state.secret, str(token))
            if user is None:
                raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
            context["user"] = user
        return await super().on_ws_connect(context)

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        return orjson.dumps(data).decode()  # text: websocket messages must be text frames

    def create_response(self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
                        sub_response: Response) -> Response:
        """The HTTP answer as orjson's bytes, as they are (a 1,000-node genealogy page is
        ~0.8 MB: not decoded to text and encoded again)."""
        response = Response(orjson.dumps(response_data), media_type="application/json",
                            status_code=sub_response.status_code or 200)
        response.headers.raw.extend(sub_response.headers.raw)
        return response
