"""Fixtures of the unit tests: an in-memory session (see :mod:`tests.unit.session`) with
password hashing made cheap for the test only.

Argon2id with the production parameters costs about 0.2 s a hash or a check, and every
signature re-authenticates; the quality-rule tests sign dozens of times. The ``session`` fixture
swaps the module's hasher for one with the minimum cost while the test runs (what is hashed and
checked, and when, stays the production code's); ``quality.accounts`` itself is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher

from quality import accounts
from tests.unit.session import UnitSession, open_session


@pytest.fixture
def cheap_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its minimum cost (1 pass, 8 KiB, 1 lane) for this test only."""
    monkeypatch.setattr(accounts, "_HASHER",
                        PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setattr(accounts, "_DUMMY", [])


@pytest.fixture
def session(cheap_passwords: None) -> Iterator[UnitSession]:
    """A fresh, empty in-memory session with every production guard."""
    s = open_session()
    yield s
    s.close()
