#!/usr/bin/env bash
# A fleet check bounded in time: `conncheck --targets FILE check` at its defaults (--jobs 8,
# --connect-timeout 5s, --sample 1s) over SILENT + REFUSED + LIVE targets (default 600 + 300 +
# 100 = 1,000), built by one helper process (examples/fleet_shape.rs) on 127.0.0.1:
#   silent   listeners that accept and never send a greeting;
#   refused  ports bound but not listening (TCP RST);
#   live     ports that each proxy to one private mariadbd (100 targets of their own that answer).
# The targets file lists the live ones last, behind every dead one. Prints the wall time, the
# states found, conncheck's peak RSS and threads, and the server's peak connections. Goal: at
# most 15 s at the defaults. BEFORE=/path/to/conncheck runs an older build the same way (the old
# fleet takes minutes: one --jobs slot per silent target for its whole connect timeout).
#
# Usage: scripts/bench-fleet.sh                      (about 30 s)
#   SILENT=600 REFUSED=300 LIVE=100 ARGS="--deadline 10s" scripts/bench-fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
export LC_ALL=C
SILENT=${SILENT:-600}
REFUSED=${REFUSED:-300}
LIVE=${LIVE:-100}
ARGS=${ARGS:-}
BEFORE=${BEFORE:-}
total=$((SILENT + REFUSED + LIVE))

# The helper holds a socket per target (and two per proxied connection), conncheck up to two per
# connection attempt: raise the soft open-files limit to the hard one.
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((2 * total + 500)) ] ||
  echo "warning: ulimit -n is $(ulimit -n): the helper or conncheck may run short of descriptors" >&2

scripts/ensure-deps.sh time
echo "== building (release)" >&2
cargo build --quiet --release --bin conncheck --example fleet_shape
target_dir=$(cargo metadata --format-version 1 --no-deps | sed 's/.*"target_directory":"\([^"]*\)".*/\1/')
cc="$target_dir/release/conncheck"
shape_bin="$target_dir/release/examples/fleet_shape"

dir=$(mktemp -d /tmp/conncheck-bench-fleet.XXXXXX)
pid=""
shape_pid=""
cleanup() {
  set +e
  exec 3>&- 2>/dev/null
  [ -n "$shape_pid" ] && kill "$shape_pid" 2>/dev/null && wait "$shape_pid" 2>/dev/null
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

as_root=()
[ "$(id -u)" = 0 ] && as_root=(--user=root)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== starting a throw-away MariaDB on 127.0.0.1:$port" >&2
mkdir -p "$dir/tmp"
mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
  --skip-test-db "${as_root[@]}" --innodb-log-file-size=8M >"$dir/install.log" 2>&1
mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/mysqld.sock" --port="$port" \
  --bind-address=127.0.0.1 --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
  --tmpdir="$dir/tmp" --innodb-buffer-pool-size=32M --innodb-log-file-size=8M \
  --max-connections=$((LIVE + 100)) --max-connect-errors=1000000 "${as_root[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do
  mariadb -S "$dir/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { mariadb -S "$dir/mysqld.sock" -uroot -N -B -e "$1"; }

echo "== helper: $SILENT silent, $REFUSED refused, $LIVE live (proxied to :$port)" >&2
mkfifo "$dir/hold"
"$shape_bin" --silent "$SILENT" --refused "$REFUSED" --live "$LIVE" --upstream "$port" \
  --out "$dir/targets.txt" <"$dir/hold" >"$dir/shape.out" 2>&1 &
shape_pid=$!
exec 3>"$dir/hold"
for _ in $(seq 300); do
  grep -q ready "$dir/shape.out" 2>/dev/null && break
  sleep 0.1
done
grep -q ready "$dir/shape.out" || { cat "$dir/shape.out" >&2; exit 1; }
[ "$(wc -l <"$dir/targets.txt")" -eq "$total" ]

results=()
# One run of binary $1: wall time, states, peak RSS, peak threads, server's peak connections.
run() {
  local bin=$1 label=$2
  sql "FLUSH STATUS" >/dev/null
  echo "== $label: conncheck --targets ($total) check $ARGS" >&2
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2086
  /usr/bin/time -f "%M" -o "$dir/time.out" "$bin" --no-defaults --targets "$dir/targets.txt" \
    $ARGS check --format json >"$dir/out.json" 2>"$dir/err.txt" &
  local cpid=$! threads=0 t n
  while kill -0 "$cpid" 2>/dev/null; do
    for t in $(pgrep -P "$cpid"); do
      n=$(awk '/^Threads:/ {print $2}' "/proc/$t/status" 2>/dev/null || echo 0)
      n=${n:-0}
      if [ "$n" -gt "$threads" ]; then threads=$n; fi
    done
    sleep 0.2
  done
  wait "$cpid" || true
  end=$(date +%s.%N)
  local states rss peak
  states=$(python3 -c '
import json, sys, collections
r = json.load(open(sys.argv[1]))
c = collections.Counter((x["state"], x["reasons"][0]["id"] if x["reasons"] else "-") for x in r)
print(", ".join(f"{n} {s} ({i})" if s != "OK" else f"{n} OK" for (s, i), n in sorted(c.items())))
' "$dir/out.json") || { echo "no JSON from $bin:" >&2; head -c 2000 "$dir/err.txt" >&2; exit 1; }
  rss=$(tail -1 "$dir/time.out" | awk '{printf "%.1f MiB", $1 / 1024}')
  peak=$(sql "SHOW GLOBAL STATUS LIKE 'Max_used_connections'" | awk '{print $2}')
  results+=("$(printf '| %s | %d | %.1f s | %s | %s | %d | %d |' "$label" "$total" \
    "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$states" "$rss" "$threads" "$peak")")
}

run "$cc" "conncheck $(git rev-parse --short HEAD)"
[ -n "$BEFORE" ] && run "$BEFORE" "before ($BEFORE)"

echo
echo "$SILENT silent + $REFUSED refused + $LIVE live targets, \`conncheck --targets FILE check --format json${ARGS:+ $ARGS}\` at the defaults (--jobs 8, --connect-timeout 5s, --sample 1s); $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end, ulimit -n $(ulimit -n):"
echo
echo "| build | targets | wall time | states (reason) | peak RSS | peak threads | server's peak connections |"
echo "|---|---:|---:|---|---:|---:|---:|"
printf '%s\n' "${results[@]}"
