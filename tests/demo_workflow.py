"""The demo plant loaded through its workflow commands, as ``tracegraph demo`` loads it, for the
module fixtures that test it (a fast password hasher while it lives: the load signs thousands of
records)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from bench.plant_workflow import load_workflow
from ontology.codes import RoleName
from quality import accounts
from quality.accounts import create_user
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings

PASSWORD = "demo password 2026"


@contextmanager
def workflow_demo(data: Path) -> Iterator[Runtime]:
    """A runtime on ``data`` holding the demo plant, signed in its history by ``demo.admin``
    and the plant's staff (password :data:`PASSWORD`)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(accounts, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8,
                                                       parallelism=1))
        mp.setattr(accounts, "_DUMMY", [])
        rt = Runtime.open(Settings(data_dir=data))
        try:
            create_user(rt, "demo.admin", PASSWORD, [RoleName.ADMIN], "Demo Admin",
                        "system:demo", "demo accounts")
            load_workflow(rt, "demo.admin", PASSWORD)
            yield rt
        finally:
            rt.close()
