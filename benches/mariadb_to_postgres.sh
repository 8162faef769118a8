#!/usr/bin/env bash
# MariaDB -> PostgreSQL: flightdeck against pgloader and a raw `psql \copy`.
#
#   bash benches/mariadb_to_postgres.sh [MODELS_ROWS] [RUNS]   (default: 1000000 3)
#
# Needs the local servers only: PostgreSQL on 127.0.0.1:5432 (user postgres,
# trust auth) and MariaDB on 127.0.0.1:3306 (user root, empty password), plus
# Debian's pgloader (`apt-get install pgloader`). The binary is
# $FLIGHTDECK_BIN, or target/release/flightdeck built here when it is unset.
#
# One run of the script:
#   1. generates the ai-research sample (MODELS_ROWS legacy `models` rows; the
#      five tables hold about 4.55 x MODELS_ROWS rows) into a new MariaDB
#      database, once;
#   2. then RUNS rounds, each loading into a fresh PostgreSQL database with:
#      (a) flightdeck run PROJECT --headless: the full sample (all rules,
#          profiling, checkpoints, event log, post-run validation);
#      (b) pgloader SOURCE TARGET with default settings: a plain copy of the
#          five legacy tables (no transformation);
#      (c) one psql process running `\copy ... FROM ... (FORMAT binary)` of the
#          five target tables as flightdeck wrote them in round 1 (exported
#          outside the timing), into tables created beforehand without keys, then
#          adding the same primary keys flightdeck ends with. The PostgreSQL
#          server does nearly all of that work; psql only streams the files.
#   3. prints a markdown table (medians over the runs) on stdout; progress goes
#      to stderr. Server CPU is the change in user+sys ticks of every `postgres`
#      (including reaped backends) and `mariadbd` process across each timed
#      command, so anything else the servers do meanwhile is counted too.
#
# Every database the script creates is dropped on exit, on both servers.
set -euo pipefail

models_rows="${1:-1000000}"
runs="${2:-3}"
[[ "$models_rows" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || {
  echo "usage: bash benches/mariadb_to_postgres.sh [MODELS_ROWS] [RUNS]" >&2
  exit 2
}

if [ -n "${FLIGHTDECK_BIN:-}" ]; then
  case "$FLIGHTDECK_BIN" in
    /*) ;;
    *) FLIGHTDECK_BIN="$PWD/$FLIGHTDECK_BIN" ;;
  esac
fi
cd "$(dirname "$0")/.."

for tool in psql pg_dump mysql python3 /usr/bin/time; do
  command -v "$tool" >/dev/null 2>&1 || { echo "missing: $tool" >&2; exit 2; }
done
if ! command -v pgloader >/dev/null 2>&1; then
  echo "pgloader is not installed. On Debian/Ubuntu: apt-get install pgloader" >&2
  exit 2
fi

if [ -z "${FLIGHTDECK_BIN:-}" ]; then
  cargo build --release --quiet
fi
bin="${FLIGHTDECK_BIN:-$PWD/target/release/flightdeck}"
[ -x "$bin" ] || { echo "no flightdeck binary at $bin" >&2; exit 2; }

pg_host=127.0.0.1 pg_port=5432 pg_user=postgres
my_host=127.0.0.1 my_port=3306 my_user=root
pg_base="postgres://$pg_user@$pg_host:$pg_port"
legacy_tables=(datasets models training_runs experiments metrics)
target_tables=(data_sources ml_models training_jobs experiment_logs model_performance)

prefix="fd_bench_$$"
legacy_db="${prefix}_legacy"
work="$(mktemp -d)"
pg_dbs=()
my_dbs=()

log() { echo "[bench] $*" >&2; }
pg() { psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" "$@"; }
my() { mysql -h"$my_host" -P"$my_port" -u"$my_user" "$@"; }

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local db
  for db in "${pg_dbs[@]}"; do
    pg -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "could not drop PostgreSQL database $db" >&2
  done
  for db in "${my_dbs[@]}"; do
    my -e "DROP DATABASE IF EXISTS \`$db\`" >/dev/null 2>&1 ||
      echo "could not drop MariaDB database $db" >&2
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

new_pg_db() {
  pg_dbs+=("$1")
  pg -d postgres -c "CREATE DATABASE \"$1\""
}
drop_pg_db() {
  pg -d postgres -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)"
}

# CPU ticks (user+sys) of every process with this exact name, plus the ticks of
# children they reaped (the postmaster reaps finished backends).
cpu_ticks() {
  local total=0 p stat
  local -a f
  for p in $(pgrep -x "$1" || true); do
    stat="$(cat "/proc/$p/stat" 2>/dev/null)" || continue
    read -r -a f <<<"${stat##*) }"
    total=$((total + f[11] + f[12] + f[13] + f[14]))
  done
  echo "$total"
}
hz="$(getconf CLK_TCK)"

# Runs "$@" under /usr/bin/time; sets t_code, t_wall, t_rss_kb, t_cpu (user+sys
# of the process), t_pg_cpu and t_my_cpu (server CPU seconds during the command).
timed() {
  local out="$1" err="$2"
  shift 2
  pg -d postgres -c CHECKPOINT
  local pg0 my0 pg1 my1
  pg0="$(cpu_ticks postgres)"
  my0="$(cpu_ticks 'mariadbd|mysqld')"
  t_code=0
  /usr/bin/time -f '%e %M %U %S' -o "$work/time" "$@" </dev/null >"$out" 2>"$err" || t_code=$?
  # /usr/bin/time exits normally when the tool dies of Ctrl-C, so bash would go on.
  if grep -q '^Command terminated by signal' "$work/time"; then
    echo "$1 was killed by a signal" >&2
    exit 130
  fi
  pg1="$(cpu_ticks postgres)"
  my1="$(cpu_ticks 'mariadbd|mysqld')"
  local user sys
  read -r t_wall t_rss_kb user sys < <(tail -n 1 "$work/time")
  t_cpu="$(python3 -c "print(round($user + $sys, 2))")"
  t_pg_cpu="$(python3 -c "print(round(($pg1 - $pg0) / $hz, 2))")"
  t_my_cpu="$(python3 -c "print(round(($my1 - $my0) / $hz, 2))")"
}

# Total rows of the given tables in a PostgreSQL database (and schema).
pg_rows() {
  local db="$1" schema="$2" sql="" t
  shift 2
  for t in "$@"; do sql+="${sql:+ + }(SELECT count(*) FROM \"$schema\".\"$t\")"; done
  pg -d "$db" -Atc "SELECT $sql"
}

results="$work/results.tsv"
record() { # tool run ok|failed exit wall rss_kb cpu pg_cpu my_cpu rows
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
}
: >"$results"

# 1. The sample, loaded into MariaDB once.
my_dbs+=("$legacy_db")
my -e "CREATE DATABASE \`$legacy_db\`"
project_dir="$work/project"
log "generating the sample: $models_rows models rows into MariaDB database $legacy_db"
"$bin" sample ai-research-mysql --into "$project_dir" --rows "$models_rows" \
  --source-url "mysql://$my_user@$my_host:$my_port/$legacy_db" \
  --target-url "$pg_base/${prefix}_placeholder" >"$work/sample.log" 2>&1 || {
  cat "$work/sample.log" >&2
  exit 3
}
# The project reads its target URL from the environment, so every run can point
# it at a fresh database.
project="$project_dir/project.toml"
sed -i "s|^url = \"$pg_base/${prefix}_placeholder\"|url = \"\${FLIGHTDECK_BENCH_TARGET_URL}\"|" "$project"
# shellcheck disable=SC2016  # the literal placeholder
grep -qxF 'url = "${FLIGHTDECK_BENCH_TARGET_URL}"' "$project" || {
  echo "could not point $project at the benchmark target" >&2
  exit 3
}
legacy_rows=0
for t in "${legacy_tables[@]}"; do
  legacy_rows=$((legacy_rows + $(my -N -B -D "$legacy_db" -e "SELECT count(*) FROM \`$t\`")))
done
log "legacy rows in the five tables: $legacy_rows"

copy_dir="$work/copy"
mkdir -p "$copy_dir"
dump_tables=()
for t in "${target_tables[@]}"; do dump_tables+=(-t "public.$t"); done
copy_rows=0
failed=0

# One timed pgloader run into a fresh database: TOOL DB ROUND [ARGS...].
run_pgloader() {
  local tool="$1" db="$2" round="$3"
  shift 3
  new_pg_db "$db"
  log "round $round/$runs: $tool into $db"
  timed "$work/pgloader.out" "$work/pgloader.err" pgloader --root-dir "$work/pgloader" "$@" \
    "mysql://$my_user@$my_host:$my_port/$legacy_db" "postgresql://$pg_user@$pg_host:$pg_port/$db"
  # pgloader puts the tables in a schema named after the MySQL database.
  local schema rows=0 status=ok
  schema="$(pg -d "$db" -Atc "SELECT table_schema FROM information_schema.tables WHERE table_name = 'models' ORDER BY table_schema = 'public' LIMIT 1")"
  if [ -n "$schema" ]; then rows="$(pg_rows "$db" "$schema" "${legacy_tables[@]}" 2>/dev/null || echo 0)"; fi
  if [ "$t_code" -ne 0 ] || [ "$rows" -ne "$legacy_rows" ]; then
    grep -m 1 -h -E 'Heap exhausted|FATAL|ERROR' "$work/pgloader.out" "$work/pgloader.err" >&2 || true
    log "  $tool FAILED: exit $t_code, $rows of $legacy_rows rows copied"
    failed=1 status=failed
  else
    log "  exit 0, $t_wall s, $rows rows in schema $schema"
  fi
  record "$tool" "$round" "$status" "$t_code" "$t_wall" "$t_rss_kb" "$t_cpu" "$t_pg_cpu" "$t_my_cpu" "$rows"
  drop_pg_db "$db"
}

for ((i = 1; i <= runs; i++)); do
  # (a) flightdeck.
  db="${prefix}_a$i"
  new_pg_db "$db"
  log "round $i/$runs: flightdeck into $db"
  export FLIGHTDECK_BENCH_TARGET_URL="$pg_base/$db"
  timed "$work/summary.json" "$work/flightdeck.err" "$bin" run "$project" --headless
  # Exit 1 means a post-run validation failed: the run finished and counts.
  if [ "$t_code" -gt 1 ]; then
    tail -n 20 "$work/flightdeck.err" >&2
    echo "flightdeck run failed with exit $t_code" >&2
    exit 3
  fi
  rows="$(python3 -c 'import json,sys; print(sum(t["read"] for t in json.load(open(sys.argv[1]))["tables"]))' "$work/summary.json")"
  [ "$rows" -eq "$legacy_rows" ] || {
    echo "flightdeck read $rows rows, the legacy tables hold $legacy_rows" >&2
    exit 3
  }
  record flightdeck "$i" ok "$t_code" "$t_wall" "$t_rss_kb" "$t_cpu" "$t_pg_cpu" "$t_my_cpu" "$rows"
  log "  exit $t_code, $t_wall s, $rows rows read"
  if [ "$i" -eq 1 ]; then
    # Input of (c): the rows and table shape this run ended with.
    log "exporting the five target tables of $db for psql \\copy"
    pg_dump -h "$pg_host" -p "$pg_port" -U "$pg_user" --schema-only --no-owner \
      --section=pre-data "${dump_tables[@]}" "$db" >"$copy_dir/pre.sql"
    pg_dump -h "$pg_host" -p "$pg_port" -U "$pg_user" --schema-only --no-owner \
      --section=post-data "${dump_tables[@]}" "$db" >"$copy_dir/post.sql"
    : >"$copy_dir/load.sql"
    for t in "${target_tables[@]}"; do
      pg -d "$db" -c "\\copy (SELECT * FROM public.$t) TO '$copy_dir/$t.bin' WITH (FORMAT binary)"
      echo "\\copy public.$t FROM '$copy_dir/$t.bin' WITH (FORMAT binary)" >>"$copy_dir/load.sql"
    done
    echo "\\i $copy_dir/post.sql" >>"$copy_dir/load.sql"
    copy_rows="$(pg_rows "$db" public "${target_tables[@]}")"
  fi
  drop_pg_db "$db"

  # (b) pgloader, default settings; (b2) the same with `prefetch rows = 10000`,
  # pgloader's documented remedy when its heap runs out (its log and reject
  # files go to $work).
  run_pgloader pgloader "${prefix}_b$i" "$i"
  run_pgloader 'pgloader prefetch' "${prefix}_p$i" "$i" --with "prefetch rows = 10000"

  # (c) one psql process: five binary \copy loads, then the primary keys.
  db="${prefix}_c$i"
  new_pg_db "$db"
  pg -d "$db" -f "$copy_dir/pre.sql" >/dev/null
  log "round $i/$runs: psql \\copy into $db"
  timed "$work/psql.out" "$work/psql.err" \
    psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$db" -f "$copy_dir/load.sql"
  if [ "$t_code" -ne 0 ]; then
    cat "$work/psql.err" >&2
    echo "psql \\copy failed with exit $t_code" >&2
    exit 3
  fi
  rows="$(pg_rows "$db" public "${target_tables[@]}")"
  [ "$rows" -eq "$copy_rows" ] || { echo "psql \\copy loaded $rows of $copy_rows rows" >&2; exit 3; }
  record 'psql \copy' "$i" ok "$t_code" "$t_wall" "$t_rss_kb" "$t_cpu" "$t_pg_cpu" "$t_my_cpu" "$rows"
  log "  exit 0, $t_wall s, $rows rows"
  drop_pg_db "$db"
done

machine="$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM (free -g total)"
versions="$("$bin" --version 2>/dev/null | head -n 1); $(pgloader --root-dir "$work/pgloader" --version 2>/dev/null | head -n 1); PostgreSQL $(pg -d postgres -Atc 'SHOW server_version'); MariaDB $(my -N -B -e 'SELECT VERSION()')"
python3 - "$results" "$models_rows" "$runs" "$legacy_rows" "$copy_rows" "$machine" "$versions" <<'PY'
import statistics, sys
path, models, runs, legacy, copy_rows, machine, versions = sys.argv[1:]
fields = ["tool", "run", "status", "exit", "wall", "rss_kb", "cpu", "pg_cpu", "my_cpu", "rows"]
rows = [dict(zip(fields, l.rstrip("\n").split("\t"))) for l in open(path) if l.strip()]
tools = ["flightdeck", "pgloader", "pgloader prefetch", "psql \\copy"]
label = {"flightdeck": "(a) flightdeck", "pgloader": "(b) pgloader, defaults",
         "pgloader prefetch": "(b2) pgloader, prefetch rows = 10000", "psql \\copy": "(c) psql \\copy"}
med = {}
print(f"## MariaDB → PostgreSQL, ai-research sample, {int(models):,} `models` rows "
      f"({int(legacy):,} legacy rows in five tables; {int(copy_rows):,} rows after flightdeck's rules)\n")
print(f"machine: {machine}; {versions}\n")
print("| tool | runs | rows | median wall s | median rows/s | median peak RSS MB | tool CPU s/wall | PG server CPU s/wall | MariaDB CPU s/wall |")
print("|---|---|---|---|---|---|---|---|---|")
for tool in tools:
    r = [x for x in rows if x["tool"] == tool]
    ok = [x for x in r if x["status"] == "ok"]
    if not ok:
        print(f"| {label[tool]} | 0 of {len(r)} finished | | | | | | | |")
        continue
    def m(f):
        return statistics.median(f(x) for x in ok)
    def per_wall(key):
        return m(lambda x: float(x[key]) / max(float(x["wall"]), 0.01))
    med[tool] = m(lambda x: float(x["wall"]))
    runs_s = f"{len(ok)}" if len(ok) == len(r) else f"{len(ok)} of {len(r)}"
    print(f"| {label[tool]} | {runs_s} | {int(ok[0]['rows']):,} | {med[tool]:.2f} "
          f"| {per_wall('rows'):,.0f} | {m(lambda x: int(x['rss_kb']) / 1024):.0f} "
          f"| {per_wall('cpu'):.2f} | {per_wall('pg_cpu'):.2f} | {per_wall('my_cpu'):.2f} |")
print()
def ratio(name, other, target):
    if "flightdeck" in med and other in med:
        r = med["flightdeck"] / med[other]
        verdict = "met" if r <= target else "not met"
        print(f"- {name}: {r:.2f}× (target ≤ {target}×: {verdict})")
    else:
        print(f"- {name}: n/a (a run did not finish)")
print("Median wall, flightdeck over the others:\n")
ratio("(a)/(c) flightdeck / psql \\copy", "psql \\copy", 1.3)
ratio("(a)/(b) flightdeck / pgloader (defaults)", "pgloader", 0.5)
ratio("(a)/(b2) flightdeck / pgloader (prefetch rows = 10000)", "pgloader prefetch", 0.5)
print("""
Medians are taken per column over the runs. rows/s = rows in the five tables /
wall s of the tool's process. CPU s/wall: user+sys seconds over wall seconds;
the server columns count every `postgres` / `mariadbd` process during the timed
command (other load on the servers counts too). (a) reads every legacy row and
writes the transformed ones plus quarantine, event log and checkpoints; (b)
copies the legacy tables as they are; (c) loads only flightdeck's output rows.

Commands, each round against a fresh PostgreSQL database DB (CHECKPOINT first):

- (a) `FLIGHTDECK_BENCH_TARGET_URL=postgres://postgres@127.0.0.1:5432/DB /usr/bin/time -f '%e %M %U %S' flightdeck run project.toml --headless`
  (project from `flightdeck sample ai-research-mysql --rows N`, target URL read from the environment)
- (b) `/usr/bin/time -f '%e %M %U %S' pgloader --root-dir WORK mysql://root@127.0.0.1:3306/LEGACY postgresql://postgres@127.0.0.1:5432/DB`
- (b2) the same with `--with "prefetch rows = 10000"` (pgloader's remedy when its heap is exhausted)
- (c) tables created from `pg_dump --schema-only --section=pre-data` of round 1's flightdeck target (no keys), then
  `/usr/bin/time -f '%e %M %U %S' psql -X -v ON_ERROR_STOP=1 -f load.sql` where load.sql runs
  `\\copy public.T FROM 'T.bin' WITH (FORMAT binary)` for the five tables, then the
  `--section=post-data` dump (their primary keys).""")
print("\nPer run:\n")
print("| tool | run | exit | wall s | peak RSS MB | tool CPU s | PG CPU s | MariaDB CPU s | rows |")
print("|---|---|---|---|---|---|---|---|---|")
for x in rows:
    print(f"| {x['tool']} | {x['run']} | {x['exit']}{'' if x['status'] == 'ok' else ' (failed)'} "
          f"| {x['wall']} | {int(x['rss_kb']) / 1024:.0f} | {x['cpu']} | {x['pg_cpu']} | {x['my_cpu']} "
          f"| {int(x['rows']):,} |")
PY
exit "$failed"
