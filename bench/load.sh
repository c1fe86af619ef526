#!/usr/bin/env bash
# Generate the MD-S plant once (data/md-s, ~1M serialised units, ~620 MB of capture files) and
# time loading it through the one write path into a fresh embedded (SQLite) store under
# data/bench-load. `tracegraph load` prints the throughput (edges/s, nodes/s, with validation).
#
#   bench/load.sh                 # MD-S, seed 7
#   SIZE=demo bench/load.sh       # any size of bench.plant.SIZES; SEED=… for another plant
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
start=$(date +%s.%N)
"$BIN/tracegraph" load --migration --user bench.admin --reason "bench: sample plant history" "$DATA"
end=$(date +%s.%N)
echo "wall time: $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s; store: $(du -sh "$STORE" | cut -f1) in $STORE"
