#!/usr/bin/env bash
# See conncheck work in a minute: start a throw-away MariaDB (socket only, own temp dir),
# reproduce a connection leak, an idle transaction blocking others and a long query, run
# `conncheck diagnose` against it, and stop everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
scripts/ensure-deps.sh
cargo build --quiet
cc="$PWD/target/debug/conncheck"

dir=$(mktemp -d /tmp/conncheck-demo.XXXXXX)
sock="$dir/mysqld.sock"
pid=""
cleanup() {
  local jobs_pids
  jobs_pids=$(jobs -p)
  [ -n "$jobs_pids" ] && kill $jobs_pids 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
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
  --innodb-buffer-pool-size=16M --innodb-log-file-size=8M --max-connections=60 "${as_root[@]}" &
pid=$!
for _ in $(seq 100); do
  mariadb -S "$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
  sleep 0.1
done
sql() { mariadb -S "$sock" -uroot -e "$1"; }
sql "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, qty INT);
     INSERT INTO shop.orders VALUES (1, 1), (2, 2);
     CREATE USER app@localhost IDENTIFIED BY 'app'; GRANT ALL ON shop.* TO app@localhost;
     CREATE USER report@localhost IDENTIFIED BY 'report'; GRANT SELECT ON shop.* TO report@localhost;"

app() { mariadb -S "$sock" -uapp -papp shop "$@"; }
echo "== a leaking app: 36 connections opened over 8 seconds and never closed"
for i in $(seq 36); do
  (sleep 600 | app) &
  sleep 0.22
done
echo "== a transaction left open (BEGIN; UPDATE ...) and three sessions waiting for its row lock"
( (echo "BEGIN; UPDATE orders SET qty = qty + 1 WHERE id = 1;"; sleep 600) | app ) &
sleep 1
for i in 1 2 3; do (app -e "UPDATE orders SET qty = qty + 1 WHERE id = 1" >/dev/null 2>&1 &); done
echo "== a report query that runs and runs"
(mariadb -S "$sock" -ureport -preport shop -e "SELECT SLEEP(600)" >/dev/null 2>&1 &)
sleep 3

echo
echo "\$ conncheck -S $sock -u root diagnose --idle-threshold 5s --long-query-threshold 2s --trx-threshold 2s"
"$cc" --no-defaults -S "$sock" -u root diagnose --idle-threshold 5s --long-query-threshold 2s --trx-threshold 2s || true
echo
echo "\$ conncheck -S $sock -u root kill-idle --older-than 5s --match-user app --dry-run"
"$cc" --no-defaults -S "$sock" -u root kill-idle --older-than 5s --match-user app --dry-run | tail -n 4
echo
echo "== stopping the throw-away server"
