#!/usr/bin/env bash
# The recorder's own cost on the server. For each performance_schema setting in PS (default: ON
# and OFF), a throw-away MariaDB with N idle connections (default 1,000) is measured for DURATION
# seconds (default 60) in each of these windows, one after the other:
#   idle      nothing but the server itself (its own background threads): the baseline;
#   record    `conncheck record --interval 1s` (a trigger that never fires);
#   before    the same with an older conncheck build, when BEFORE=/path/to/conncheck is given;
#   floor     the cheapest reading of the same data at the same interval, over one `mariadb`
#             client connection: the sample's SHOW GLOBAL STATUS, @@max_connections and SHOW
#             PROCESSLIST (FLOOR=0 leaves it out).
# Each row gives mariadbd's CPU time (utime + stime from /proc/PID/stat) over the window, as a
# share of one core, and that share minus the idle baseline: what the reader costs the server.
# Also statements per second (Questions delta, the two reads of it subtracted) and conncheck's
# own CPU time and peak RSS (GNU time). Paste the tables into the "Recorder" section of
# BENCHMARKS.md.
#
# Usage: scripts/bench-record.sh                 (about 7 minutes with FLOOR, 9 with BEFORE)
#   PS=ON N=5000 DURATION=30 scripts/bench-record.sh
#   BEFORE=/tmp/conncheck-old scripts/bench-record.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
export LC_ALL=C
N=${N:-1000}
DURATION=${DURATION:-60}
INTERVAL=${INTERVAL:-1s}
PS=${PS:-ON OFF}
FLOOR=${FLOOR:-1}
BEFORE=${BEFORE:-}

scripts/ensure-deps.sh time
echo "== building (release)" >&2
cargo build --quiet --release --bin conncheck --example scenario
target_dir=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
cc="$target_dir/release/conncheck"
scenario_bin="$target_dir/release/examples/scenario"
interval_s=$(awk -v i="$INTERVAL" 'BEGIN { if (i ~ /ms$/) print substr(i, 1, length(i) - 2) / 1000; else { sub(/s$/, "", i); print i } }')

dir=$(mktemp -d /tmp/conncheck-bench-record.XXXXXX)
pid=""
scenario_pid=""
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
hz=$(getconf CLK_TCK)

# Start a server with N idle connections of user app, performance_schema $1; sets pid and sock.
start_server() {
  local ps=$1 d="$dir/ps-$1"
  sock="$d/mysqld.sock"
  echo "== starting a throw-away MariaDB in $d (performance_schema $ps, max_connections $((N + 100)))" >&2
  mkdir -p "$d/tmp"
  mariadb-install-db --no-defaults --datadir="$d/data" --auth-root-authentication-method=normal \
    --skip-test-db "${as_root[@]}" --innodb-log-file-size=8M >"$d/install.log" 2>&1
  mariadbd --no-defaults --datadir="$d/data" --socket="$sock" --skip-networking \
    --pid-file="$d/mysqld.pid" --log-error="$d/error.log" --tmpdir="$d/tmp" \
    --innodb-buffer-pool-size=32M --innodb-log-file-size=8M --max-connections=$((N + 100)) \
    --thread-cache-size=$((N + 100)) --open-files-limit=$((2 * N + 1000)) \
    --performance-schema="$ps" "${as_root[@]}" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    mariadb -S "$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
  done
  sql "CREATE DATABASE shop; CREATE USER app@localhost IDENTIFIED BY 'app'; GRANT ALL ON shop.* TO app@localhost;"
  rm -f "$dir/hold"
  mkfifo "$dir/hold"
  "$scenario_bin" --socket "$sock" --user app --password app --table shop.t --idle "$N" \
    <"$dir/hold" >"$d/scenario.out" 2>&1 &
  scenario_pid=$!
  exec 3>"$dir/hold"
  for _ in $(seq 1200); do
    [ "$(connected)" -ge "$N" ] && break
    sleep 0.1
  done
  echo "== $(connected) connections" >&2
  sleep 2
}

stop_server() {
  exec 3>&-
  wait "$scenario_pid" 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
}

sql() { mariadb -S "$sock" -uroot -N -B -e "$1"; }
connected() { sql "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='THREADS_CONNECTED'"; }
questions() { sql "SHOW GLOBAL STATUS LIKE 'Questions'" | awk '{print $2}'; }
# mariadbd utime + stime, in seconds.
server_cpu() { awk -v hz="$hz" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$pid/stat"; }

# One measured window running "$@": prints "statements/s server_cpu_s".
window() {
  local q0 q1 c0 c1
  q0=$(questions); c0=$(server_cpu)
  "$@"
  q1=$(questions); c1=$(server_cpu)
  # Each read of Questions is itself one statement.
  awk -v q0="$q0" -v q1="$q1" -v c0="$c0" -v c1="$c1" -v d="$DURATION" \
    'BEGIN { printf "%.2f %.3f\n", (q1 - q0 - 1) / d, c1 - c0 }'
}

# conncheck record (binary $1) for DURATION; its own CPU and RSS in $dir/time.out.
record() {
  rm -rf "$dir/incidents"
  /usr/bin/time -f "%U %S %M" -o "$dir/time.out" \
    "$1" --no-defaults -S "$sock" -u root record --dir "$dir/incidents" --interval "$INTERVAL" \
    --trigger "connections >= 1000000" --for "${DURATION}s" >"$dir/record.out" 2>"$dir/record.err" ||
    { cat "$dir/record.err" >&2; exit 1; }
}

# The floor: what a sample reads, by one mariadb client connection, every INTERVAL.
floor() {
  # The statement of snapshot::sampling::status_sql().
  local status="SHOW GLOBAL STATUS WHERE Variable_name IN ('threads_connected','threads_running','connections','connection_errors_max_connections','aborted_clients','aborted_connects','access_denied_errors','innodb_row_lock_current_waits','max_used_connections','questions','slow_queries','threads_created','uptime')"
  local n
  n=$(awk -v d="$DURATION" -v i="$interval_s" 'BEGIN { printf "%d", d / i }')
  for _ in $(seq "$n"); do
    echo "$status; SELECT @@GLOBAL.max_connections; SHOW PROCESSLIST;"
    sleep "$interval_s"
  done | mariadb -S "$sock" -uroot -N -B >/dev/null
}

rows=()
row() { # label qps cpu_s base_cpu_s conncheck_cpu_s rss_kib
  rows+=("$(awk -v l="$1" -v q="$2" -v c="$3" -v b="$4" -v cc="$5" -v rss="$6" -v d="$DURATION" 'BEGIN {
    own = (cc == "-") ? "-" : sprintf("%.2f s (%.2f%%)", cc, 100 * cc / d)
    mem = (rss == "-") ? "-" : sprintf("%.1f MiB", rss / 1024)
    cost = (l ~ /idle/) ? "-" : sprintf("**%.2f%%**", 100 * (c - b) / d)
    printf "| %s | %.2f | %.2f s | %.2f%% | %s | %s | %s |", l, q, c, 100 * c / d, cost, own, mem
  }')")
}

for ps in $PS; do
  start_server "$ps"
  echo "== idle: ${DURATION}s" >&2
  read -r qps cpu < <(window sleep "$DURATION")
  base=$cpu
  row "performance_schema $ps, idle (baseline)" "$qps" "$cpu" "$base" - -
  echo "== conncheck record --interval $INTERVAL: ${DURATION}s" >&2
  read -r qps cpu < <(window record "$cc")
  read -r cu cs crss <"$dir/time.out"
  samples=$(awk '/samples taken/ {print $3}' "$dir/record.out")
  row "performance_schema $ps, \`record\` ($samples samples)" "$qps" "$cpu" "$base" "$(awk -v a="$cu" -v b="$cs" 'BEGIN{print a+b}')" "$crss"
  if [ -n "$BEFORE" ]; then
    echo "== $BEFORE record --interval $INTERVAL: ${DURATION}s" >&2
    read -r qps cpu < <(window record "$BEFORE")
    read -r cu cs crss <"$dir/time.out"
    row "performance_schema $ps, \`record\` before ($("$BEFORE" --version | awk '{print $2}'), $BEFORE)" "$qps" "$cpu" "$base" "$(awk -v a="$cu" -v b="$cs" 'BEGIN{print a+b}')" "$crss"
  fi
  if [ "$FLOOR" = 1 ]; then
    echo "== floor (mariadb client, same reads): ${DURATION}s" >&2
    read -r qps cpu < <(window floor)
    row "performance_schema $ps, floor: status + SHOW PROCESSLIST by \`mariadb\`" "$qps" "$cpu" "$base" - -
  fi
  stop_server
done

echo
echo "$N idle connections, ${DURATION}s per window, \`--interval $INTERVAL\`; mariadbd $(mariadbd --version | awk '{print $3}'), conncheck $(git rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end:"
echo
echo "| window | statements/s | mariadbd CPU | of one core | cost over the idle baseline | conncheck CPU | conncheck peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
