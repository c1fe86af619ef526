"""Time ``audit verify`` on a loaded store: the hash chain, then the stored state against the
trail's replay, printing entries/s, nodes/s, edges/s and the total (wall and CPU time: the
machine may be shared).

    python -m bench.audit_verify                      # the store TRACEGRAPH_* configures
    python -m bench.audit_verify data/bench-load      # a data directory (bench/load.sh's)
    python -m bench.audit_verify DIR --chain-only     # the chain alone
    python -m bench.audit_verify DIR --sequential     # the state after the chain, one process
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from graph.audit import verify_store
from tracegraph.runtime import Runtime
from tracegraph.settings import Settings


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", type=Path, help="data directory of the store")
    ap.add_argument("--chain-only", action="store_true", help="skip the state comparison")
    ap.add_argument("--sequential", action="store_true",
                    help="compare the state after the chain, in this process")
    args = ap.parse_args(argv)
    cfg = Settings(data_dir=args.data_dir) if args.data_dir else Settings()
    rt = Runtime.open(cfg)
    wall, cpu = time.perf_counter(), time.process_time()
    report = verify_store(rt.store, state=not args.chain_only,
                          parallel=False if args.sequential else None)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_kids = kids.ru_utime + kids.ru_stime
    rt.close()
    st = report.state
    chain_s = report.chain_seconds
    print(f"engine {report.engine}: {'OK' if report.ok else 'NOT OK'}")
    print(f"chain: {report.checked:,} entries in {chain_s:.1f} s "
          f"({report.checked / max(chain_s, 1e-9):,.0f} entries/s)")
    if st is not None:
        print(f"state: {st.nodes:,} nodes, {st.edges:,} edges, {st.entries:,} entries replayed "
              f"in {st.seconds:.1f} s ({st.nodes / st.seconds:,.0f} nodes/s, "
              f"{st.edges / st.seconds:,.0f} edges/s); {st.differences} difference(s)"
              f"{' (in a second process, beside the chain)' if report.parallel else ''}")
    print(f"total: {wall:.1f} s wall, {cpu:.1f} s CPU (+ {cpu_kids:.1f} s CPU in the state "
          "workers)")


if __name__ == "__main__":
    main()
