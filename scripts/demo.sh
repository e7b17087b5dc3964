#!/usr/bin/env bash
# See conncheck work in a minute: start a throw-away MariaDB (socket only, own temp dir),
# reproduce a connection leak, an idle transaction blocking others and a long query, run
# `conncheck diagnose` against it, and stop everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
scripts/ensure-deps.sh
cargo build --quiet --bin conncheck --example scenario
# The binaries of CARGO_TARGET_DIR when it is set, as cargo put them there.
debug=$(realpath -m "${CARGO_TARGET_DIR:-target}")/debug
cc="$debug/conncheck"

dir=$(mktemp -d /tmp/conncheck-demo.XXXXXX)
sock="$dir/mysqld.sock"
pid=""
cleanup() {
  exec 3>&- 2>/dev/null || true
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

as_root=()
[ "$(id -u)" = 0 ] && as_root=(--user=root)
echo "== starting a throw-away MariaDB in $dir"
mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
  --skip-test-db "${as_root[@]}" --innodb-log-file-size=8M >"$dir/install.log" 2>&1
mkdir -p "$dir/tmp"
mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --skip-networking \
  --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" --tmpdir="$dir/tmp" \
  --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --max-connections=60 "${as_root[@]}" \
  >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do
  mariadb -S "$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { mariadb -S "$sock" -uroot -e "$1"; }
sql "CREATE DATABASE shop; CREATE USER app@localhost IDENTIFIED BY 'app'; GRANT ALL ON shop.* TO app@localhost;"

echo "== a leaking app (36 connections opened over 7 seconds, never closed), a transaction left"
echo "   open with three sessions queued on its row lock, and a report query that runs and runs"
mkfifo "$dir/hold"
"$debug"/examples/scenario --socket "$sock" --user app --password app --table shop.orders \
  --idle 36 --stagger 200ms --idle-trx --lock-waiters 3 --long-query <"$dir/hold" >"$dir/scenario.out" 2>&1 &
exec 3>"$dir/hold" # the scenario holds its connections until this script closes fd 3
for _ in $(seq 200); do grep -q ready "$dir/scenario.out" && break; sleep 0.1; done
sleep 3

echo
echo "\$ conncheck -S $sock -u root diagnose --idle-threshold 5s --long-query-threshold 2s --trx-threshold 2s"
"$cc" --no-defaults -S "$sock" -u root diagnose --idle-threshold 5s --long-query-threshold 2s --trx-threshold 2s || true
echo
echo "\$ conncheck -S $sock -u root kill-idle --older-than 5s --match-user app --dry-run --limit 5"
"$cc" --no-defaults -S "$sock" -u root kill-idle --older-than 5s --match-user app --dry-run --limit 5
echo
echo "== stopping the throw-away server"
