#!/usr/bin/env bash
# Generate the MD-S plant once (data/md-s, ~1M serialised units, ~620 MB of capture files) and
# time loading it through the one write path into a fresh embedded (SQLite) store under
# data/bench-load. `tracegraph load` prints the throughput (edges/s, nodes/s, with validation).
#
#   bench/load.sh                 # MD-S, seed 7
#   SIZE=demo bench/load.sh       # any size of bench.plant.SIZES; SEED=… for another plant
#   BULK=1 bench/load.sh          # tracegraph load --bulk (phase times printed)
#   RAW=1 bench/load.sh           # then the raw-copy peer of the same rows (bench.raw_copy)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-.venv/bin}
SIZE=${SIZE:-md-s}
SEED=${SEED:-7}
DATA=data/$SIZE
STORE=data/bench-load
MARK=$DATA/.generated-seed-$SEED

if [[ -f $MARK ]]; then
  echo "using $DATA (already generated; delete it to regenerate)"
else
  rm -rf "$DATA"
  "$BIN/tracegraph" generate --size "$SIZE" --seed "$SEED" --out "$DATA"
  touch "$MARK"
fi
echo "capture files: $(du -sh "$DATA" | cut -f1) in $DATA"

rm -rf "$STORE"
# the plant's history holds records in later states: it loads as an admin-run, signed migration
export TRACEGRAPH_STORE=embedded TRACEGRAPH_DATA_DIR=$STORE
export TRACEGRAPH_PASSWORD=${TRACEGRAPH_PASSWORD:-bench-load migration 2026}
echo "$TRACEGRAPH_PASSWORD" | "$BIN/tracegraph" user create-admin --username bench.admin \
  --name "Bench Admin" --password-stdin >/dev/null
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
"$BIN/tracegraph" load --migration --user bench.admin --reason "bench: sample plant history" \
  ${BULK:+--bulk} "$DATA"
end=$(date +%s.%N)
echo "wall time: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s; store: $(du -sh "$STORE" | cut -f1) in $STORE"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN/python" - "$STORE/tracegraph.sqlite" <<'PY'
import os, sqlite3, sys
path = sys.argv[1]
size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
c = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
units = c.execute("SELECT count(*) FROM nodes WHERE label = 'SerializedUnit'").fetchone()[0]
tables = c.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
print(f"store: {size / 1e6:,.0f} MB, {units:,} serialised units, "
      f"{size / max(units, 1):,.0f} bytes per unit; largest: "
      + ", ".join(f"{n} {b / 1e6:,.0f} MB" for n, b in tables[:6]))
PY
if [[ -n ${RAW:-} ]]; then
  "$BIN/python" -m bench.raw_copy "$STORE/tracegraph.sqlite"
fi
