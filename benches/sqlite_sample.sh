#!/usr/bin/env bash
# SQLite -> SQLite throughput and peak memory of the full ai-research sample
# (all rules, checkpoints, event log, post-run validation), at several sizes.
#
#   bash benches/sqlite_sample.sh [MODELS_ROWS ...]     (default: 1000000 3000000)
#
# Prints one line per size: models rows, total rows, wall seconds of the whole
# command, rows/s over all tables by that wall time, the run's own seconds and
# rows/s (the load, without the post-run validation that follows it), models
# rows/s as the run reported it, peak RSS in MB.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/flightdeck"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 3000000)
printf '%-10s %-10s %-8s %-10s %-8s %-10s %-12s %-8s\n' models total wall_s rows_per_s run_s run_rows_s models_rows_s peak_MB
for n in "${sizes[@]}"; do
  dir="$work/$n"
  "$bin" sample ai-research --into "$dir" --rows "$n" >/dev/null 2>&1
  code=0
  /usr/bin/time -f '%e %M' -o "$work/time" "$bin" run "$dir/project.toml" --headless >"$work/summary.json" 2>/dev/null || code=$?
  # Exit 1 means a post-run validation failed: the numbers still count.
  if [ "$code" -gt 1 ]; then echo "run failed with exit $code" >&2; exit "$code"; fi
  read -r wall rss < <(tail -n 1 "$work/time")
  python3 - "$n" "$wall" "$rss" "$work/summary.json" <<'PY'
import json, sys
n, wall, rss, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = json.load(open(path))
total = sum(t["read"] for t in s["tables"])
models = next(t for t in s["tables"] if t["source"] == "models")
run = s["elapsed_s"]
print(f"{n:<10} {total:<10} {wall:<8.1f} {total / wall:<10.0f} {run:<8.1f} {total / run:<10.0f} {models['rows_per_s']:<12.0f} {rss / 1024:<8.0f}")
PY
  rm -rf "$dir"
done
