#!/usr/bin/env bash
# The recorder's own cost on the server: a throw-away MariaDB with N idle connections (default
# 1,000), measured for DURATION seconds (default 60) without the recorder, then for as long with
# `conncheck record --interval 1s` running against it (a trigger that never fires). Prints, for
# both runs: statements the server executed per second (Questions delta; the two reads of it are
# subtracted), mariadbd CPU time (utime+stime from /proc), and conncheck's own CPU time and peak
# RSS. Paste the table into the "Recorder" section of BENCHMARKS.md.
#
# Usage: scripts/bench-record.sh            (about 2.5 minutes)
#   N=5000 DURATION=30 INTERVAL=1s scripts/bench-record.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
export LC_ALL=C
N=${N:-1000}
DURATION=${DURATION:-60}
INTERVAL=${INTERVAL:-1s}
PS=${PS:-ON}   # performance_schema: OFF leaves the program-name join out of each sample

scripts/ensure-deps.sh time
echo "== building (release)" >&2
cargo build --quiet --release --bin conncheck --example scenario
cc="$PWD/target/release/conncheck"
scenario_bin="$PWD/target/release/examples/scenario"

dir=$(mktemp -d /tmp/conncheck-bench-record.XXXXXX)
sock="$dir/mysqld.sock"
pid=""
cleanup() {
  set +e
  exec 3>&- 2>/dev/null
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null; done
  [ -n "$pid" ] && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

as_root=()
[ "$(id -u)" = 0 ] && as_root=(--user=root)
echo "== starting a throw-away MariaDB in $dir (max_connections $((N + 100)))" >&2
mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
  --skip-test-db "${as_root[@]}" --innodb-log-file-size=8M >"$dir/install.log" 2>&1
mkdir -p "$dir/tmp"
mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --skip-networking \
  --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
  --innodb-buffer-pool-size=32M --innodb-log-file-size=8M --max-connections=$((N + 100)) \
  --thread-cache-size=$((N + 100)) --open-files-limit=$((2 * N + 1000)) \
  --performance-schema="$PS" "${as_root[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do
  mariadb -S "$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { mariadb -S "$sock" -uroot -N -B -e "$1"; }
sql "CREATE DATABASE shop; CREATE USER app@localhost IDENTIFIED BY 'app'; GRANT ALL ON shop.* TO app@localhost;"
mkfifo "$dir/hold"
"$scenario_bin" --socket "$sock" --user app --password app --table shop.t --idle "$N" \
  <"$dir/hold" >"$dir/scenario.out" 2>&1 &
exec 3>"$dir/hold"
for _ in $(seq 1200); do
  [ "$(sql "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='THREADS_CONNECTED'")" -ge "$N" ] && break
  sleep 0.1
done
echo "== $(sql "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='THREADS_CONNECTED'") connections" >&2
sleep 2

hz=$(getconf CLK_TCK)
questions() { sql "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}'; }
# mariadbd utime + stime, in seconds.
server_cpu() { awk -v hz="$hz" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$pid/stat"; }

# One measured window: prints "statements/s server_cpu_s".
window() {
  local q0 q1 c0 c1
  q0=$(questions); c0=$(server_cpu)
  "$@"
  q1=$(questions); c1=$(server_cpu)
  # Each read of Questions is itself one statement.
  awk -v q0="$q0" -v q1="$q1" -v c0="$c0" -v c1="$c1" -v d="$DURATION" \
    'BEGIN { printf "%.2f %.3f\n", (q1 - q0 - 1) / d, c1 - c0 }'
}

echo "== baseline: ${DURATION}s without the recorder" >&2
window sleep "$DURATION" >"$dir/base.win"
read -r base_qps base_cpu <"$dir/base.win"
echo "== ${DURATION}s with conncheck record --interval $INTERVAL" >&2
mkdir -p "$dir/incidents"
window /usr/bin/time -f "%U %S %M" -o "$dir/time.out" \
  "$cc" --no-defaults -S "$sock" -u root record --dir "$dir/incidents" --interval "$INTERVAL" \
  --trigger "connections >= 1000000" --for "${DURATION}s" >"$dir/rec.win" 2>"$dir/record.err" ||
  { cat "$dir/record.err" >&2; exit 1; }
mv "$dir/rec.win" "$dir/rec.all"
# The recorder's summary went to the same file as the window's line: split them.
grep '^conncheck record\|^  ' "$dir/rec.all" >"$dir/record.out" || true
read -r rec_qps rec_cpu < <(tail -1 "$dir/rec.all")
read -r cu cs crss <"$dir/time.out"
samples=$(awk '/samples taken/ {print $3}' "$dir/record.out")

awk -v n="$N" -v d="$DURATION" -v i="$INTERVAL" -v bq="$base_qps" -v bc="$base_cpu" \
  -v rq="$rec_qps" -v rc="$rec_cpu" -v cu="$cu" -v cs="$cs" -v rss="$crss" -v s="$samples" 'BEGIN {
  printf "\n%d idle connections, %ds per run, `record --interval %s` (%s samples):\n\n", n, d, i, s
  print "| | statements/s on the server | mariadbd CPU | conncheck CPU | conncheck peak RSS |"
  print "|---|---|---|---|---|"
  printf "| without the recorder | %.2f | %.2f s (%.2f%% of a core) | - | - |\n", bq, bc, 100 * bc / d
  printf "| with `record` | %.2f | %.2f s (%.2f%% of a core) | %.2f s (%.2f%% of a core) | %.1f MiB |\n", rq, rc, 100 * rc / d, cu + cs, 100 * (cu + cs) / d, rss / 1024
  printf "| the recorder'"'"'s cost | %.2f statements/s | %.2f%% of a core | %.2f%% of a core | |\n", rq - bq, 100 * (rc - bc) / d, 100 * (cu + cs) / d
}'
