"""Issue 17 G: a signal consumer bounds the embedded store's page cache and mmap window (the
page cache keeps every page written until full: 256 MB by default, grown with the database)."""

from __future__ import annotations

from pathlib import Path

from graph.engines.sqlite import SQLiteStore


def test_limit_memory_applies_to_the_open_and_later_connections(tmp_path: Path) -> None:
    import threading

    store = SQLiteStore(tmp_path / "g.sqlite")
    assert store._conn().execute("PRAGMA cache_size").fetchone()[0] == -262144  # the default
    store.limit_memory(8, 0)
    seen: list[tuple[int, int]] = []

    def other_thread() -> None:  # a connection opened later (one per thread)
        c = store._conn()
        seen.append((c.execute("PRAGMA cache_size").fetchone()[0],
                     c.execute("PRAGMA mmap_size").fetchone()[0]))

    t = threading.Thread(target=other_thread)
    t.start()
    t.join()
    c = store._conn()
    assert (c.execute("PRAGMA cache_size").fetchone()[0],
            c.execute("PRAGMA mmap_size").fetchone()[0]) == (-8192, 0)
    assert seen == [(-8192, 0)]
