"""FastAPI dependencies shared by every route and by the GraphQL context: the runtime, the
server's token-signing secret and the signed-in user, as ``Annotated`` aliases, and
:func:`require`, the one authorization check of the REST routes.

A route declares what it needs in its signature and never reads ``app.state`` itself::

    @router.get("/api/thing")
    def thing(rt: RuntimeDep, user: CurrentUser) -> ...:
        require("GET /api/thing", user)  # 401 unauthenticated, 403 not allowed
        ...

The runtime and the secret are set on ``app.state`` by the application's lifespan
(:func:`api.app.create_app`). The user is resolved before the route runs, but refusing is the
route's first step, so a malformed request body is still answered 422 before any 401.
"""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, HTTPException
from starlette.requests import HTTPConnection

from api.auth import Unauthorized, authorize, user_from_token
from quality.accounts import User
from tracegraph.runtime import Runtime

__all__ = ["AccessRefused", "CurrentUser", "RuntimeDep", "ServerSecret", "current_user",
           "get_runtime", "get_secret", "require"]


def get_runtime(conn: HTTPConnection) -> Runtime:
    """The application's runtime (HTTP requests and websockets alike)."""
    return cast(Runtime, conn.app.state.runtime)


def get_secret(conn: HTTPConnection) -> str:
    """The secret bearer tokens are signed with."""
    return cast(str, conn.app.state.secret)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServerSecret = Annotated[str, Depends(get_secret)]


def current_user(conn: HTTPConnection, rt: RuntimeDep, secret: ServerSecret) -> User | None:
    """The active account behind the ``Authorization: Bearer`` header, or ``None``."""
    return user_from_token(rt, secret, conn.headers.get("authorization"))


CurrentUser = Annotated[User | None, Depends(current_user)]


class AccessRefused(HTTPException):
    """A REST request refused by the authorization table: 401 when nobody is signed in, 403
    when the user's roles do not allow the operation; the detail is ``{code, message}``."""

    def __init__(self, e: Unauthorized) -> None:
        super().__init__(401 if e.code == "UNAUTHENTICATED" else 403,
                         {"code": e.code, "message": e.message})
        self.code = e.code
        self.message = e.message


def require(operation: str, user: User | None) -> User:
    """The user, if :data:`api.auth.RULES` lets them perform ``operation`` (e.g.
    ``"POST /api/recall"``); else raise :class:`AccessRefused`."""
    try:
        authorize(operation, user)
    except Unauthorized as e:
        raise AccessRefused(e) from None
    assert user is not None  # authorize refuses an anonymous request
    return user
