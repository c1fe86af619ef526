"""Request bodies, before any route sees them, and how much of a request is echoed back.

:class:`BodyLimits` (ASGI middleware) reads a request's body while counting it: over the limit
of its path (``Settings.max_request_bytes``; ``max_upload_bytes`` for the capture and recall
uploads) it answers 413 without parsing anything, whatever ``Content-Length`` claimed. A JSON
body is then checked strictly off the event loop (:func:`ingest.strict_json.check`: UTF-8,
nesting depth, lone surrogates, 64-bit integers, finite numbers) and refused with 400
``BAD_INPUT`` naming the problem and where it is. Refusals on ``/graphql`` are GraphQL error
documents; elsewhere ``{"detail": {code, field, rule, message}}`` as the REST routes answer.

:func:`clip` bounds every value an error echoes (and the log keeps): a 50 MB seed is shown as
its first characters and its length.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import orjson

from ingest.strict_json import JSONInputError, check
from ingest.strict_json import clip as clip_text

__all__ = ["ECHO_CHARS", "ECHO_ITEMS", "UPLOAD_PATHS", "BodyLimits", "clip"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: routes that take documents larger than a query: EPCIS capture and the recall seed list
UPLOAD_PATHS = ("/capture", "/events", "/api/recall")
ECHO_CHARS = 200
ECHO_ITEMS = 20


def clip(value: Any, limit: int = ECHO_CHARS) -> Any:
    """``value`` as an error may echo it: strings cut to ``limit`` characters (saying how long
    they were), lists and mappings to their first :data:`ECHO_ITEMS` items.

    >>> clip(["a" * 30, 1], 10)
    ['aaaaaaaaaa… (30 characters)', 1]
    """
    if isinstance(value, str):
        return clip_text(value, limit)
    if isinstance(value, (list, tuple)):
        out = [clip(v, limit) for v in value[:ECHO_ITEMS]]
        return out + ([f"… {len(value) - ECHO_ITEMS} more"] if len(value) > ECHO_ITEMS else [])
    if isinstance(value, dict):
        return {clip_text(str(k), limit): clip(v, limit)
                for k, v in list(value.items())[:ECHO_ITEMS]}
    return value


class BodyLimits:
    """ASGI middleware: 413 for a body over its path's limit, 400 ``BAD_INPUT`` for JSON that
    :func:`ingest.strict_json.check` refuses; otherwise the body is handed on unchanged."""

    def __init__(self, app: ASGIApp, max_request_bytes: int, max_upload_bytes: int,
                 max_json_depth: int) -> None:
        self.app = app
        self.max_request, self.max_upload = max_request_bytes, max_upload_bytes
        self.max_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        limit = self.max_upload if path.startswith(UPLOAD_PATHS) else self.max_request
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", ())}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(path, limit, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # counted, not trusted from Content-Length
                await _too_large(path, limit, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and "json" in headers.get("content-type", ""):
            try:
                await anyio.to_thread.run_sync(check, body, self.max_depth)
            except JSONInputError as e:
                await _refuse(path, 400, "BAD_INPUT", e.path, e.rule,
                              f"the request body is refused: {e}", send)
                return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(path: str, limit: int, send: Send) -> None:
    await _refuse(path, 413, "TOO_LARGE", "body", "max-bytes",
                  f"the request body exceeds the limit of {limit} bytes for {path}", send)


async def _refuse(path: str, status: int, code: str, field: str, rule: str, message: str,
                  send: Send) -> None:
    detail = {"code": code, "field": field, "rule": rule, "message": message}
    body = orjson.dumps(
        {"errors": [{"message": message, "extensions": detail}]} if path.startswith("/graphql")
        else {"detail": detail})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
