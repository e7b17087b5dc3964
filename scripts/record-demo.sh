#!/usr/bin/env bash
# A real incident folder in a minute: start a throw-away MariaDB (socket only, own temp dir),
# run `conncheck record` against it, reproduce a connection leak (a steady "web" pool and an
# "app" account that opens 40 connections over 8 seconds and never closes them) that crosses the
# trigger, and leave the incident folder in DIR (default: ./record-demo). Everything else is
# removed again. Usage: scripts/record-demo.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
out=$(realpath -m "${1:-record-demo}")
scripts/ensure-deps.sh
cargo build --quiet --bin conncheck --example scenario
# The binaries of CARGO_TARGET_DIR when it is set, as cargo put them there.
debug=$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug
cc="$debug/conncheck"

dir=$(mktemp -d /tmp/conncheck-record-demo.XXXXXX)
sock="$dir/mysqld.sock"
pid=""
rec=""
cleanup() {
  exec 3>&- 4>&- 2>/dev/null || true
  [ -n "$rec" ] && kill -TERM "$rec" 2>/dev/null || true
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

as_root=()
[ "$(id -u)" = 0 ] && as_root=(--user=root)
echo "== starting a throw-away MariaDB in $dir (max_connections=60)"
mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
  --skip-test-db "${as_root[@]}" --innodb-log-file-size=8M >"$dir/install.log" 2>&1
mkdir -p "$dir/tmp"
mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --skip-networking \
  --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
  --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --max-connections=60 \
  --performance-schema=ON "${as_root[@]}" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  mariadb -S "$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { mariadb -S "$sock" -uroot -e "$1"; }
sql "CREATE DATABASE shop;
  CREATE USER app@localhost IDENTIFIED BY 'app'; GRANT ALL ON shop.* TO app@localhost;
  CREATE USER web@localhost IDENTIFIED BY 'web'; GRANT ALL ON shop.* TO web@localhost;"

mkdir -p "$out"
echo "== conncheck record --dir $out --interval 500ms --trigger 'usage >= 70' --before 60s --after 3s"
"$cc" --no-defaults -S "$sock" -u root record --dir "$out" --interval 500ms \
  --trigger 'usage >= 70' --before 60s --after 3s --for 45s &
rec=$!
sleep 3

echo "== a steady web pool of 8 connections"
mkfifo "$dir/hold-web" "$dir/hold-app"
"$debug"/examples/scenario --socket "$sock" --user web --password web --table shop.w \
  --idle 8 <"$dir/hold-web" >"$dir/web.out" 2>&1 &
exec 3>"$dir/hold-web"
sleep 4
echo "== the leak: app opens 40 connections over 8 seconds and never closes them"
"$debug"/examples/scenario --socket "$sock" --user app --password app --table shop.a \
  --idle 40 --stagger 200ms <"$dir/hold-app" >"$dir/app.out" 2>&1 &
exec 4>"$dir/hold-app"
# Wait for the incident folder (trigger + --after), then stop the recorder cleanly.
for _ in $(seq 300); do
  ls "$out"/*/index.json >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 1
kill -TERM "$rec"
wait "$rec" || true
rec=""
echo
echo "== the incident folder"
ls -l "$out"/*/
echo
echo "Replay it with: $cc diagnose --from $(ls -d "$out"/*/ | tail -1)trigger.json"
