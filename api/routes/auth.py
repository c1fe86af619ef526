"""HTTP route for signing in: ``POST /auth/token`` (OAuth2 password flow) answers a bearer
token; the tokens and the authorization table are :mod:`api.auth`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import auth_error_status, issue_token
from api.deps import RuntimeDep, ServerSecret
from quality.accounts import AuthError, authenticate

__all__ = ["router"]

router = APIRouter()


@router.post("/auth/token")
def token(rt: RuntimeDep, secret: ServerSecret,
          form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
    """OAuth2 password flow: a bearer token for the account (failures count to lockout)."""
    try:
        user = authenticate(rt, form.username, form.password)
    except AuthError as e:
        raise HTTPException(auth_error_status(e), {"code": e.code, "field": e.field,
                                                   "message": str(e)},
                            headers={"WWW-Authenticate": "Bearer"}) from None
    return issue_token(user, secret)
