#!/bin/sh
# Profiling overhead on a ~1M-row sample (220k models → 1,001,000 rows in five
# tables): the same run with [profiling] enabled and disabled, twice each,
# alternating. Usage: benches/profile_overhead.sh [path to a release flightdeck]
#   cargo build --release && benches/profile_overhead.sh target/release/flightdeck
set -e
BIN=$(realpath "${1:-target/release/flightdeck}")
WORK=$(mktemp -d)
for mode in off on off on; do
  d=$WORK/$mode
  rm -rf "$d"
  "$BIN" sample ai-research --into "$d" --rows 220000 --seed 7 >/dev/null
  [ "$mode" = off ] && sed -i 's/^enabled = true/enabled = false/' "$d/project.toml"
  cd "$d"
  /usr/bin/time -f "$mode wall %e s user %U s" "$BIN" run --headless project.toml > out.json 2> err.txt
  tail -1 err.txt
done
rm -rf "$WORK"
