"""The derivation index persisted next to the database file (``<store>.derivations.npz``), so a
new process (the CLI) does not re-read millions of edges: written after a large catch-up, read
back only when it belongs to the same store, knows the same derivation kinds, is not older than
the last removal of records and not ahead of the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from graph.engines.sqlite.adjacency import DerivationIndex

__all__ = ["index_path", "load_index", "save_index"]


def index_path(db_path: str | Path) -> Path | None:
    """Where the index of the store at ``db_path`` lives (none for an in-memory store)."""
    return None if str(db_path) == ":memory:" else Path(f"{db_path}.derivations.npz")


def load_index(path: Path | None, idx: DerivationIndex, store_id: str, pruned: int,
               watermark: int) -> None:
    """Restore ``idx`` from ``path`` when the file fits (see the module docstring)."""
    if path is None or not path.exists():
        return
    try:
        with np.load(path, allow_pickle=False) as z:
            state = {k: z[k] for k in z.files}
        kinds = [str(k) for k in state.pop("kinds")]
        found_id = str(state.pop("store_id")[0])
    except (OSError, ValueError, KeyError):
        return  # unreadable: rebuild from the store
    if (found_id == store_id and kinds == list(idx.kinds) and "etx" in state
            and pruned <= int(state["tx"][0]) <= watermark):
        idx.restore(state)


def save_index(path: Path | None, idx: DerivationIndex, store_id: str) -> None:
    """Write ``idx`` to ``path`` atomically (a temporary file, then a rename)."""
    if path is None:
        return
    tmp = path.with_suffix(".tmp.npz")
    arrays: dict[str, Any] = {**idx.state(), "kinds": np.array(list(idx.kinds)),
                              "store_id": np.array([store_id])}
    np.savez(tmp, allow_pickle=False, **arrays)
    tmp.replace(path)
