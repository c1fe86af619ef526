"""Sign-in under attack, on both engines: parallel wrong passwords lock the account (the failure
counter is read and written in one write transaction), and a signed token must carry ``sub``,
``iat`` and ``exp``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import server_secret
from quality.accounts import MAX_FAILURES, get_user
from tests.conftest import PASSWORD, make_user
from tests.serving import served
from tracegraph.runtime import Runtime


@pytest.mark.req("URS-ACC-03")
def test_forty_parallel_wrong_logins_lock_the_account(runtime: Runtime) -> None:
    make_user(runtime, "op.olsen", ["operator"])
    with served(runtime) as url, httpx.Client(base_url=url, timeout=120) as http:
        def attempt(i: int) -> int:
            return http.post("/auth/token", data={"username": "op.olsen",
                                                  "password": f"wrong-password-{i:03d}"}
                             ).status_code

        with ThreadPoolExecutor(40) as pool:
            codes = list(pool.map(attempt, range(40)))
        right = http.post("/auth/token", data={"username": "op.olsen", "password": PASSWORD})
    assert set(codes) <= {401, 423} and codes.count(401) == MAX_FAILURES - 1, codes
    user = get_user(runtime, "op.olsen")
    assert user is not None and user.failed_attempts == 40 + 1  # every attempt counted
    assert right.status_code == 423, right.text
    assert right.json()["detail"]["code"] == "locked"


@pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
def test_a_token_without_its_standard_claims_is_refused(runtime: Runtime,
                                                        missing: str) -> None:
    make_user(runtime, "qa.quinn", ["qa"])
    now = datetime.now(UTC)
    claims = {"sub": "qa.quinn", "iat": int(now.timestamp()),
              "exp": int((now + timedelta(hours=1)).timestamp())}
    good = jwt.encode(claims, server_secret(runtime.settings), algorithm="HS256")
    del claims[missing]
    forged = jwt.encode(claims, server_secret(runtime.settings), algorithm="HS256")
    with TestClient(create_app(runtime.settings, runtime)) as c:
        def me(token: str) -> httpx.Response:
            return c.post("/graphql", json={"query": "{ me { username } }"},
                          headers={"Authorization": f"Bearer {token}"})

        assert me(good).json()["data"]["me"]["username"] == "qa.quinn"
        body = me(forged).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body
