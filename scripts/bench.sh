#!/usr/bin/env bash
# Benchmark conncheck against the `mariadb` client (the floor), pt-kill and mysqltuner on a
# throw-away MariaDB with 100, 1,000 and 2,000 idle connections; print the ratios and write them
# into the generated section of BENCHMARKS.md (see there for the method and the goals).
#
# Then the incident shapes of issue 12: 2,000 idle transactions, 400 and 2,000 row-lock waiters, a
# metadata-lock pile-up of 500, 5,000 idle connections (and the processlist sources there), peak
# memory at 8,000 sessions, each beside the `mariadb` client fetching the same data.
#
# Usage: scripts/bench.sh            (about 15-20 minutes on 2 cores)
#   RUNS=40 KILL_RUNS=10 TUNER_RUNS=3 SIZES="100 1000 2000" KILL_N=1000 scripts/bench.sh
#   PARTS=shapes SHAPE_RUNS=5 scripts/bench.sh   (only the incident shapes; PARTS=idle: only
#                                                 the idle-connection, kill and status parts)
#   BEFORE=/path/to/old/conncheck PARTS=shapes scripts/bench.sh   (time an older build beside it)
#   NO_WRITE=1 scripts/bench.sh      (print only, leave BENCHMARKS.md alone)
#   PARTS=scale SCALE_RUNS=10 SCALE_N=10000 scripts/bench.sh   (part 7 only: every command at
#                                                 10,000 sessions against its floor; see below)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
export LC_ALL=C

RUNS=${RUNS:-40}             # timed runs per command, diagnose
WARMUP=${WARMUP:-5}
KILL_RUNS=${KILL_RUNS:-15}   # each kill run first restarts the scenario (~3 s)
TUNER_RUNS=${TUNER_RUNS:-3}  # mysqltuner takes seconds per run
SIZES=${SIZES:-"100 1000 2000"}
KILL_N=${KILL_N:-1000}
KILL_IL_RUNS=${KILL_IL_RUNS:-40} # kill-idle and its floor taken in turns (the goal's measure)
PARTS=${PARTS:-"idle shapes scale"}  # idle: parts 1-5; shapes: part 6; scale: part 7
SHAPE_RUNS=${SHAPE_RUNS:-10}   # timed runs per command, incident shapes
RSS_N=${RSS_N:-8000}           # sessions for the peak-memory measure of part 6
IDLE_TRX_N=${IDLE_TRX_N:-2000} # part 6 sizes: sessions idle in a transaction,
WAITERS=${WAITERS:-"400 450 2000"} # row-lock waiters (check runs at the first size),
MDL_N=${MDL_N:-500}            # metadata-lock waiters,
IDLE_N=${IDLE_N:-5000}         # idle connections
BEFORE=${BEFORE:-}             # another conncheck binary to time beside this one in part 6
SCALE_N=${SCALE_N:-10000}      # part 7: sessions held for every command at scale,
SCALE_RUNS=${SCALE_RUNS:-20}   # timed runs per read-only command there,
SCALE_KILL_RUNS=${SCALE_KILL_RUNS:-10} # and per kill (each restarts SCALE_N sessions first),
SCALE_TURNS=${SCALE_TURNS:-60} # rounds of the read-only commands and floors taken in turns
has_part() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }

scripts/ensure-deps.sh hyperfine percona-toolkit mysqltuner time jq
echo "== building (release)" >&2
cargo build --quiet --release --bin conncheck --example scenario
repo=$PWD
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
cc="$target/release/conncheck"
scenario_bin="$target/release/examples/scenario"

dir=$(mktemp -d /tmp/conncheck-bench.XXXXXX)
sock="$dir/mysqld.sock"
worker=""
# The work runs in its own process group (below): on exit, error or Ctrl-C this shell stops that
# whole group (hyperfine, clients, the scenario, mariadbd), waits for the server and removes $dir.
# (Waiting in `wait` lets the INT trap fire at once; a trap deferred behind a foreground child
# that handles SIGINT itself, like the mariadb client, can be lost.)
cleanup() {
  local rc=$? p pids=()
  set +e
  trap - EXIT INT TERM
  for p in "$dir/scenario.pid" "$dir/mysqld.pid"; do [ -s "$p" ] && pids+=("$(cat "$p")"); done
  [ -n "$worker" ] && kill -TERM -- "-$worker" 2>/dev/null
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  [ -n "$worker" ] && wait "$worker" 2>/dev/null
  rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench() {
  # --- the server -------------------------------------------------------------------------------
  # 3,000 connections need one descriptor each plus the table cache: raise the soft limit to the
  # hard one (capped) when it is lower, and tell mariadbd what it may use
  # (https://mariadb.com/kb/en/server-system-variables/#open_files_limit).
  want_files=20000
  hard=$(ulimit -Hn)
  [ "$hard" != unlimited ] && [ "$hard" -lt "$want_files" ] && want_files=$hard
  [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$want_files" ] && ulimit -n "$want_files"
  files=$(ulimit -Sn)
  [ "$files" = unlimited ] && files=$want_files
  if [ "$files" -lt 7000 ]; then
    echo "bench: only $files open files allowed (ulimit -n); 3,000 connections need ~7,000" >&2
    exit 1
  fi
  # Part 6 holds RSS_N idle connections (plus the shapes' few hundred): each takes a descriptor in
  # the server and one in the scenario process.
  max_conn=3000
  # Part 7 holds SCALE_N sessions: the server needs a descriptor per connection (plus its table
  # cache and files: ~1,000 spare) and so does the scenario process that holds them, each within
  # the soft limit raised above. Where the hard limit is lower than SCALE_N + 1,000, raise it first
  # (as root: `ulimit -Hn 20000` in the shell that runs this, `nofile` in
  # /etc/security/limits.conf, or `LimitNOFILE=` for a systemd unit) or run a smaller SCALE_N.
  if has_part scale; then
    [ $((SCALE_N + 500)) -gt "$max_conn" ] && max_conn=$((SCALE_N + 500))
    if [ "$files" -lt $((SCALE_N + 1000)) ]; then
      echo "bench: only $files open files allowed (ulimit -n, hard limit $hard); $SCALE_N sessions need $((SCALE_N + 1000)): raise the hard limit (see scripts/bench.sh) or lower SCALE_N" >&2
      exit 1
    fi
  fi
  if has_part shapes; then
    [ "$RSS_N" -gt "$max_conn" ] && max_conn=$RSS_N
    for n in $IDLE_TRX_N $WAITERS $MDL_N $IDLE_N; do [ "$n" -gt "$max_conn" ] && max_conn=$n; done
    max_conn=$((max_conn + 500))
    if [ "$files" -lt $((max_conn + 1000)) ]; then
      echo "bench: only $files open files allowed (ulimit -n); $max_conn connections need $((max_conn + 1000))" >&2
      exit 1
    fi
  fi

  # A free loopback port: mysqltuner's client insists on TCP once it is given a port.
  port=""
  for _ in $(seq 50); do
    p=$((30000 + RANDOM % 30000))
    if ! ss -Hltn "sport = :$p" | grep -q .; then port=$p; break; fi
  done
  [ -n "$port" ] || { echo "bench: no free TCP port found" >&2; exit 1; }

  as_root=()
  [ "$(id -u)" = 0 ] && as_root=(--user=root)
  echo "== starting a throw-away MariaDB in $dir (socket + 127.0.0.1:$port)" >&2
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=normal \
    --skip-test-db "${as_root[@]}" --innodb-log-file-size=8M >"$dir/install.log" 2>&1
  mkdir -p "$dir/tmp"
  mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --port="$port" \
    --bind-address=127.0.0.1 --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
    --tmpdir="$dir/tmp" --innodb-buffer-pool-size=32M --innodb-log-file-size=8M \
    --max-connections="$max_conn" --thread-cache-size="$max_conn" --open-files-limit="$files" \
    --table-open-cache=400 --skip-name-resolve --log-warnings=0 "${as_root[@]}" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 300); do
    mariadb --no-defaults -S "$sock" -uroot -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/error.log" >&2; exit 1; }
    sleep 0.1
  done
  sql() { mariadb --no-defaults -S "$sock" -uroot -Bse "$1"; }
  sql "CREATE USER app@localhost IDENTIFIED BY 'app'; CREATE USER IF NOT EXISTS root@'127.0.0.1'; \
       GRANT ALL ON *.* TO root@'127.0.0.1' WITH GRANT OPTION"

  # --- the scenario: N idle connections as `app`, restartable from hyperfine's --prepare --------
  mkfifo "$dir/hold"
  exec 3<>"$dir/hold" # read-write: opening never blocks, and the scenario sees EOF only at exit
  # The re-check read conncheck does right before killing (information_schema.PROCESSLIST with
  # TIME_MS and QUERY_ID on MariaDB, `read::processlist_sql`).
  recheck_sql="SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID, NULL, MEMORY_USED FROM information_schema.PROCESSLIST"
  cat >"$dir/scenario.sh" <<EOF
#!/usr/bin/env bash
# Stop the running scenario, start one holding \$1 idle connections, wait until the server shows
# exactly those, and write their ids as KILL scripts (one per line, and one single line).
set -euo pipefail
n=\$1
if [ -s "$dir/scenario.pid" ]; then
  old=\$(cat "$dir/scenario.pid")
  kill "\$old" 2>/dev/null || true
  while kill -0 "\$old" 2>/dev/null; do sleep 0.01; done
fi
: >"$dir/scenario.out"
"$scenario_bin" --socket "$sock" --user app --password app --idle "\$n" \\
  <"$dir/hold" >"$dir/scenario.out" 2>&1 &
echo \$! >"$dir/scenario.pid"
q() { mariadb --no-defaults -S "$sock" -uroot -Bse "\$1"; }
for _ in \$(seq 1200); do
  if grep -q ready "$dir/scenario.out" &&
    [ "\$(q "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")" = "\$n" ]; then
    # Newest connection first, the order conncheck sends its KILLs in (MariaDB walks its thread
    # list from the newest thread to find each one: oldest first costs it n²/2 steps).
    q "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'app' AND COMMAND = 'Sleep' ORDER BY ID DESC" \\
      >"$dir/ids"
    awk '{ print "KILL CONNECTION " \$1 ";" }' "$dir/ids" >"$dir/kill-lines.sql"
    packet() { awk '{ printf "%sKILL CONNECTION %s", (NR > 1 ? ";" : ""), \$1 } END { print "" }'; }
    packet <"$dir/ids" >"$dir/kill-packet.sql"
    # The kill floor: the re-check read conncheck must do (its query), then the one packet; and
    # the same with the packet oldest first (the order of SHOW PROCESSLIST, and pt-kill's).
    { echo '$recheck_sql\$\$'; packet <"$dir/ids" | sed 's/\$/\$\$/'; } >"$dir/recheck-packet.sql"
    { echo '$recheck_sql\$\$'; sort -n "$dir/ids" | packet | sed 's/\$/\$\$/'; } \\
      >"$dir/recheck-packet-oldest-first.sql"
    [ "\$(wc -l <"$dir/ids")" = "\$n" ] && exit 0
  fi
  kill -0 "\$(cat "$dir/scenario.pid")" 2>/dev/null || { cat "$dir/scenario.out" >&2; exit 1; }
  sleep 0.05
done
echo "scenario: \$n idle connections not in place" >&2
exit 1
EOF
  chmod +x "$dir/scenario.sh"

  # --- what we run ------------------------------------------------------------------------------
  cc_args=(--no-defaults -S "$sock" -u root)
  my="mariadb --no-defaults -S $sock -uroot"
  diagnose_cmd="$cc ${cc_args[*]} diagnose --sample 0 --format json"
  floor_fetch="$my -e 'SHOW FULL PROCESSLIST; SHOW GLOBAL STATUS; SHOW GLOBAL VARIABLES; SELECT * FROM information_schema.INNODB_TRX'"
  kill_cmd="$cc ${cc_args[*]} kill-idle --older-than 0s --yes"
  floor_lines="$my <$dir/kill-lines.sql"
  # --delimiter: the client then sends the whole line as ONE COM_QUERY with multiple statements
  # (with ';' it would split it and send 1,000 queries); checked with strace below.
  floor_packet="$my --delimiter='\$\$' <$dir/kill-packet.sql"
  # The kill floor (issue 15 item 4): the re-check read conncheck cannot skip, then the same
  # packet (newest connection first, as conncheck sends its KILLs), on one connection. The same
  # oldest first shows what the order alone costs the server (docs/kill-order.md).
  floor_recheck="$my --delimiter='\$\$' <$dir/recheck-packet.sql >/dev/null"
  floor_oldest_first="$my --delimiter='\$\$' <$dir/recheck-packet-oldest-first.sql >/dev/null"
  # pt-kill's --interval defaults to 30 s without --busy-time and it sleeps one interval before
  # honouring --run-time: --interval 1 (its minimum, whole seconds) makes it check once and exit.
  ptkill="pt-kill --no-version-check --idle-time 0 --match-command Sleep --kill --victims all --run-time 1 --interval 1 S=$sock,u=root"
  status_cmd="$cc ${cc_args[*]} status"
  mem_mb=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)
  tuner="mysqltuner --host 127.0.0.1 --port $port --user root --nocolor --forcemem $mem_mb --forceswap 0 --server-log $dir/error.log"

  results="$dir/results.tsv" # section, n, subject, median ms, mean ms, sd ms, baseline, ratio, goal, verdict
  : >"$results"
  # Median, mean and sd in ms of one command in a hyperfine JSON export.
  stat() { jq -r --arg c "$2" '.results[] | select(.command == $c) | [.median, .mean, (.stddev // 0)] | map(. * 1000 * 100 | round / 100) | @tsv' "$1"; }
  median() { jq -r --arg c "$2" '.results[] | select(.command == $c) | .median' "$1"; }
  # ratio FILE A B: median(A) / median(B)
  ratio() { awk -v a="$(median "$1" "$2")" -v b="$(median "$1" "$3")" 'BEGIN { printf "%.2f", a / b }'; }
  le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }
  row() { (IFS=$'\t'; echo "$*") >>"$results"; }
  # record FILE SECTION N SUBJECT BASELINE GOAL_MAX: one row; GOAL_MAX empty = no goal
  record() {
    local f=$1 sec=$2 n=$3 subj=$4 base=$5 goal=$6 r verdict="-" goaltext="-"
    r=$( [ "$subj" = "$base" ] && echo 1.00 || ratio "$f" "$subj" "$base")
    if [ -n "$goal" ]; then
      goaltext="<= ${goal}x"
      if le "$r" "$goal"; then verdict=met; else verdict=MISSED; fi
    fi
    row "$sec" "$n" "$subj" "$(stat "$f" "$subj")" "$base" "$r" "$goaltext" "$verdict"
  }
  hf() { hyperfine --style basic --export-json "$@"; }
  # interleave RUNS NAME_A CMD_A NAME_B CMD_B: wall time of each command (ms, one per line in
  # $dir/il-NAME.txt), taken in turns, the order swapped every run, a fresh scenario before each.
  interleave() {
    local runs=$1 an=$2 ac=$3 bn=$4 bc=$5 i order w cmd t0 t1
    : >"$dir/il-$an.txt"
    : >"$dir/il-$bn.txt"
    for i in $(seq "$runs"); do
      order="a b"
      [ $((i % 2)) = 0 ] && order="b a"
      for w in $order; do
        "$dir/scenario.sh" "$KILL_N"
        if [ "$w" = a ]; then cmd=$ac; out="$dir/il-$an.txt"; else cmd=$bc; out="$dir/il-$bn.txt"; fi
        t0=$(date +%s%N)
        bash -c "$cmd" >/dev/null 2>&1
        t1=$(date +%s%N)
        awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f\n", d / 1e6 }' >>"$out"
      done
    done
  }
  median_of() { sort -n "$1" | awk '{ a[NR] = $1 } END { printf "%.2f", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
  maxrss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }'; }
  conns() { sql "SHOW GLOBAL STATUS LIKE 'Connections'" | cut -f2; }
  # Connections counts every login, including the one that reads it: subtract that one.
  delta() { local b a; b=$(conns); "$@" >/dev/null 2>&1 || true; a=$(conns); echo $((a - b - 1)); }

  if has_part idle; then
  # --- 1. diagnose vs the mariadb client, at each N --------------------------------------------
  for n in $SIZES; do
    echo "== 1. diagnose vs the mariadb client, $n idle connections" >&2
    "$dir/scenario.sh" "$n"
    hf "$dir/diag-$n.json" -N --warmup "$WARMUP" --runs "$RUNS" \
      -n conncheck-diagnose "$diagnose_cmd" -n mariadb-client "$floor_fetch"
    record "$dir/diag-$n.json" diagnose "$n" mariadb-client mariadb-client ""
    record "$dir/diag-$n.json" diagnose "$n" conncheck-diagnose mariadb-client 1.3
  done

  # --- 4. peak memory at the largest N (the scenario from step 1 is still running) -------------
  n_max=${SIZES##* }
  rss_cc=$(maxrss $diagnose_cmd)
  rss_my=$(maxrss bash -c "$floor_fetch")
  row memory "$n_max" "conncheck diagnose max RSS" "$rss_cc MB" - - - - "< 30 MB" \
    "$(le "$rss_cc" 30 && echo met || echo MISSED)"
  row memory "$n_max" "mariadb client max RSS" "$rss_my MB" - - - - - -

  # --- 5. server connections per run -----------------------------------------------------------
  conn_row() { # N NAME COMMAND...: the goal (exactly 1) applies to diagnose and kill-idle
    local d goal=- verdict=-
    d=$(delta "${@:3}")
    case $2 in
      conncheck-diagnose | conncheck-kill-idle)
        goal="= 1"
        if [ "$d" = 1 ]; then verdict=met; else verdict=MISSED; fi
        ;;
    esac
    row connections "$1" "$2" "$d" - - - - "$goal" "$verdict"
  }
  conn_row "$n_max" conncheck-diagnose $diagnose_cmd
  conn_row "$n_max" conncheck-status $status_cmd
  conn_row "$n_max" mysqltuner $tuner
  "$dir/scenario.sh" "$KILL_N"
  conn_row "$KILL_N" conncheck-kill-idle $kill_cmd
  "$dir/scenario.sh" "$KILL_N"
  conn_row "$KILL_N" pt-kill $ptkill

  # --- 2. killing 1,000 idle sessions ----------------------------------------------------------
  echo "== 2. kill-idle vs the mariadb client and pt-kill, $KILL_N idle connections" >&2
  # First check that every contender really kills them all, and how many packets the floors send.
  remaining() { sleep 0.3; sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'"; }
  packets() { # COM_QUERY packets carrying KILL sent by the command (strace), or "-"
    if command -v strace >/dev/null; then
      strace -f -qq -e trace=sendto,write -s 64 -o "$dir/strace.out" bash -c "$1" >/dev/null 2>&1
      grep -c '\\3KILL ' "$dir/strace.out" || true
    else
      bash -c "$1" >/dev/null 2>&1
      echo -
    fi
  }
  declare -A killed sent
  for name in conncheck-kill-idle mariadb-recheck-and-packet mariadb-one-per-round-trip mariadb-one-packet pt-kill; do
    case $name in
      conncheck-kill-idle) c=$kill_cmd ;;
      mariadb-recheck-and-packet) c=$floor_recheck ;;
      mariadb-one-per-round-trip) c=$floor_lines ;;
      mariadb-one-packet) c=$floor_packet ;;
      pt-kill) c=$ptkill ;;
    esac
    "$dir/scenario.sh" "$KILL_N"
    sent[$name]=$(packets "$c")
    killed[$name]=$((KILL_N - $(remaining)))
  done
  hf "$dir/kill.json" --warmup 1 --runs "$KILL_RUNS" --prepare "$dir/scenario.sh $KILL_N" \
    -n conncheck-kill-idle "$kill_cmd" -n mariadb-recheck-and-packet "$floor_recheck" \
    -n mariadb-one-per-round-trip "$floor_lines" \
    -n mariadb-one-packet "$floor_packet" -n pt-kill "$ptkill" \
    -n mariadb-recheck-and-packet-oldest-first "$floor_oldest_first"
  record "$dir/kill.json" kill "$KILL_N" mariadb-recheck-and-packet mariadb-recheck-and-packet ""
  record "$dir/kill.json" kill "$KILL_N" mariadb-recheck-and-packet-oldest-first mariadb-recheck-and-packet ""
  record "$dir/kill.json" kill "$KILL_N" mariadb-one-packet mariadb-recheck-and-packet ""
  record "$dir/kill.json" kill "$KILL_N" mariadb-one-per-round-trip mariadb-recheck-and-packet ""
  record "$dir/kill.json" kill "$KILL_N" pt-kill mariadb-recheck-and-packet ""
  record "$dir/kill.json" kill "$KILL_N" conncheck-kill-idle mariadb-recheck-and-packet ""
  # The goal is judged on runs taken in turns (conncheck, floor, floor, conncheck, …, each on a
  # fresh scenario): hyperfine runs one command's runs back to back, and on this shared 2-core
  # machine the load of a few seconds moves a 60 ms median by 10-20 %, more than the 5 % goal.
  echo "== 2b. kill-idle and its floor in turns, $KILL_IL_RUNS runs each" >&2
  interleave "$KILL_IL_RUNS" conncheck-kill-idle "$kill_cmd" mariadb-recheck-and-packet "$floor_recheck"
  il_c=$(median_of "$dir/il-conncheck-kill-idle.txt")
  il_f=$(median_of "$dir/il-mariadb-recheck-and-packet.txt")
  il_r=$(awk -v a="$il_c" -v b="$il_f" 'BEGIN { printf "%.2f", a / b }')
  row kill-in-turns "$KILL_N" mariadb-recheck-and-packet "$il_f" - - mariadb-recheck-and-packet 1.00 - -
  row kill-in-turns "$KILL_N" conncheck-kill-idle "$il_c" - - mariadb-recheck-and-packet "$il_r" "<= 1.05x" \
    "$(le "$il_r" 1.05 && echo met || echo MISSED)"
  pt_ratio=$(ratio "$dir/kill.json" conncheck-kill-idle pt-kill)
  row kill "$KILL_N" "conncheck-kill-idle vs pt-kill" - - - pt-kill "$pt_ratio" "< 1x" \
    "$(le "$pt_ratio" 0.999 && echo met || echo MISSED)"

  # --- 3. status vs mysqltuner -----------------------------------------------------------------
  echo "== 3. status vs mysqltuner, $n_max idle connections" >&2
  "$dir/scenario.sh" "$n_max"
  tuner_rc=0
  $tuner >"$dir/tuner.out" 2>&1 || tuner_rc=$?
  hf "$dir/status.json" -N -i --warmup 1 --runs "$TUNER_RUNS" \
    -n conncheck-status "$status_cmd" -n mysqltuner "$tuner"
  record "$dir/status.json" status "$n_max" conncheck-status conncheck-status ""
  record "$dir/status.json" status "$n_max" mysqltuner conncheck-status ""
  fi

  # --- 6. incident shapes ----------------------------------------------------------------------
  shapes="$dir/shapes.tsv" # shape, command, median ms, mean ms, sd ms, vs, ratio, goal, verdict
  : >"$shapes"
  srow() { (IFS=$'\t'; echo "$*") >>"$shapes"; }
  # srecord FILE SHAPE SUBJECT BASELINE GOAL_MAX
  srecord() {
    local f=$1 sh=$2 subj=$3 base=$4 goal=$5 r verdict="-" goaltext="-"
    r=$( [ "$subj" = "$base" ] && echo 1.00 || ratio "$f" "$subj" "$base")
    if [ -n "$goal" ]; then
      goaltext="<= ${goal}x"
      if le "$r" "$goal"; then verdict=met; else verdict=MISSED; fi
    fi
    srow "$sh" "$subj" "$(stat "$f" "$subj")" "$base" "$r" "$goaltext" "$verdict"
  }
  if has_part shapes; then
    # shape EXPECTED COUNT_SQL SCENARIO_ARGS...: stop the running scenario, start one with the
    # arguments, and wait until COUNT_SQL (run as root) returns EXPECTED.
    shape() {
      local want=$1 count=$2 old
      shift 2
      if [ -s "$dir/scenario.pid" ]; then
        old=$(cat "$dir/scenario.pid")
        kill "$old" 2>/dev/null || true
        while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
        # The server needs a moment to end the old sessions (and roll back their transactions).
        for _ in $(seq 600); do
          [ "$(sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")" = 0 ] && break
          sleep 0.1
        done
      fi
      : >"$dir/scenario.out"
      "$scenario_bin" --socket "$sock" --user app --password app "$@" \
        <"$dir/hold" >"$dir/scenario.out" 2>&1 &
      echo $! >"$dir/scenario.pid"
      for _ in $(seq 3000); do
        if grep -q ready "$dir/scenario.out" && [ "$(sql "$count")" = "$want" ]; then return 0; fi
        kill -0 "$(cat "$dir/scenario.pid")" 2>/dev/null || { cat "$dir/scenario.out" >&2; exit 1; }
        sleep 0.1
      done
      echo "bench: shape $* not in place ($(sql "$count") of $want)" >&2
      exit 1
    }
    sql "GRANT ALL ON conncheck_scenario.* TO app@localhost"
    lock_floor="$my -e 'SELECT * FROM information_schema.PROCESSLIST; SHOW GLOBAL STATUS; SHOW GLOBAL VARIABLES; SELECT * FROM information_schema.INNODB_TRX; SELECT * FROM information_schema.INNODB_LOCK_WAITS LIMIT 20001; SELECT * FROM information_schema.INNODB_LOCKS LIMIT 20001'"
    show_floor="$my -e 'SHOW FULL PROCESSLIST; SHOW GLOBAL STATUS; SHOW GLOBAL VARIABLES; SELECT * FROM information_schema.INNODB_TRX; SELECT * FROM information_schema.INNODB_LOCK_WAITS LIMIT 20001; SELECT * FROM information_schema.INNODB_LOCKS LIMIT 20001'"
    # What a finding says, from one diagnose run: "id waiters/sessions" for the shape's finding.
    found() { # FINDING_ID EVIDENCE_NAME DIAGNOSE_ARGS...
      local id=$1 ev=$2
      shift 2
      $cc "${cc_args[@]}" diagnose --sample 0 --format json "$@" 2>/dev/null |
        jq -r --arg id "$id" --arg ev "$ev" '[.findings[] | select(.id == $id) | "\($ev) \([.evidence[] | select(.name == $ev) | .value][0]), blocker: \([.evidence[] | select(.name == "blocker") | .value | .[0:60]][0] // "-")"] | if length == 0 then "not found" else "\($id): " + join("; ") end'
    }
    # trx_shape NAME FINDING EVIDENCE GOAL DIAGNOSE_ARGS...: hyperfine diagnose against the floors.
    trx_shape() {
      local name=$1 fid=$2 ev=$3 goal=$4 f
      shift 4
      f="$dir/shape-$name.json"
      echo "== 6. $name" >&2
      # -i: diagnose and check exit non-zero on what they find.
      hf "$f" -N -i --warmup 2 --runs "$SHAPE_RUNS" \
        -n conncheck-diagnose "$cc ${cc_args[*]} diagnose --sample 0 --format json $*" \
        -n mariadb-same-data "$lock_floor" -n mariadb-show-processlist "$show_floor" "${extra_cmds[@]}"
      srecord "$f" "$name" mariadb-same-data mariadb-same-data ""
      srecord "$f" "$name" mariadb-show-processlist mariadb-same-data ""
      srecord "$f" "$name" conncheck-diagnose mariadb-same-data "$goal"
      for c in "${extra_names[@]}"; do srecord "$f" "$name" "$c" mariadb-same-data ""; done
      srow "$name" "finding" "$(found "$fid" "$ev" "$@")" - - - - - -
    }
    # before_cmd ARGS...: the BEFORE binary's diagnose, as hyperfine arguments (none without it).
    before_cmd() {
      [ -n "$BEFORE" ] || return 0
      printf '%s\n' -n conncheck-before "$BEFORE ${cc_args[*]} diagnose --sample 0 --format json $*"
    }
    extra_cmds=() extra_names=()
    if [ -n "$BEFORE" ]; then extra_names=(conncheck-before); mapfile -t extra_cmds < <(before_cmd --trx-threshold 1s); fi
    shape $((IDLE_TRX_N + 1)) "SELECT COUNT(*) FROM information_schema.INNODB_TRX" --idle-trx-n "$IDLE_TRX_N"
    sleep 2 # older than --trx-threshold 1s
    trx_shape "idle-transactions-$IDLE_TRX_N" idle-transactions "idle transactions" 1.5 --trx-threshold 1s
    for w in $WAITERS; do
      # Counted in the processlist: MariaDB's INNODB_TRX stops at its 16 MiB cache limit (about
      # 600 transactions behind one row lock, where INNODB_LOCK_WAITS has ~1M rows).
      shape "$w" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app' AND STATE = 'Updating'" \
        --lock-waiters "$w"
      sleep 2 # the last ones reach their lock wait
      # The lock tables' real multiplicity on this server: rows per waiter.
      lw_rows=$(sql "SELECT COUNT(*) FROM information_schema.INNODB_LOCK_WAITS")
      trx_rows=$(sql "SELECT COUNT(*) FROM information_schema.INNODB_TRX")
      extra_cmds=() extra_names=()
      if [ -n "$BEFORE" ]; then extra_names=(conncheck-before); mapfile -t extra_cmds < <(before_cmd); fi
      if [ "$w" = "${WAITERS%% *}" ]; then
        # check as Nagios runs it (default 1 s sample).
        extra_cmds+=(-n conncheck-check "$cc ${cc_args[*]} check")
        extra_names+=(conncheck-check)
      fi
      trx_shape "row-lock-waiters-$w" lock-pileup waiters 1.5
      srow "row-lock-waiters-$w" "INNODB_LOCK_WAITS rows, INNODB_TRX rows" "$lw_rows, $trx_rows" - - - - - -
    done
    extra_cmds=() extra_names=()
    if [ -n "$BEFORE" ]; then extra_names=(conncheck-before); mapfile -t extra_cmds < <(before_cmd); fi
    mdl="Waiting for table metadata lock"
    shape "$MDL_N" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = '$mdl'" --mdl-waiters "$MDL_N"
    trx_shape "mdl-pileup-$MDL_N" lock-pileup waiters 1.5

    # 5,000 idle connections: diagnose against SHOW FULL PROCESSLIST, and the processlist sources
    # side by side (the decision recorded in BENCHMARKS.md).
    shape "$IDLE_N" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'" --idle "$IDLE_N"
    f="$dir/shape-idle-$IDLE_N.json"
    echo "== 6. idle-$IDLE_N" >&2
    idle_floor="$my -e 'SHOW FULL PROCESSLIST; SHOW GLOBAL STATUS; SHOW GLOBAL VARIABLES; SELECT * FROM information_schema.INNODB_TRX'"
    hf "$f" -N --warmup 3 --runs "$RUNS" \
      -n conncheck-diagnose "$diagnose_cmd" -n mariadb-show-processlist "$idle_floor" \
      -n show-full-processlist-only "$my -e 'SHOW FULL PROCESSLIST'" \
      -n is-processlist-only "$my -e 'SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID FROM information_schema.PROCESSLIST'" \
      -n is-processlist-memory-used "$my -e 'SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID, MEMORY_USED FROM information_schema.PROCESSLIST'"
    for c in mariadb-show-processlist conncheck-diagnose show-full-processlist-only \
      is-processlist-only is-processlist-memory-used; do
      case $c in
        conncheck-diagnose) srecord "$f" "idle-$IDLE_N" "$c" mariadb-show-processlist 1.2 ;;
        mariadb-show-processlist) srecord "$f" "idle-$IDLE_N" "$c" "$c" "" ;;
        *) srecord "$f" "idle-$IDLE_N" "$c" show-full-processlist-only "" ;;
      esac
    done

    # Peak memory at RSS_N sessions.
    shape "$RSS_N" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'" --idle "$RSS_N"
    rss8=$(maxrss $diagnose_cmd)
    srow "idle-$RSS_N" "conncheck diagnose max RSS" "$rss8 MB" - - - - "< 30 MB" \
      "$(le "$rss8" 30 && echo met || echo MISSED)"
    if [ -s "$dir/scenario.pid" ]; then kill "$(cat "$dir/scenario.pid")" 2>/dev/null || true; fi
  fi

  # --- 7. every command at SCALE_N sessions ----------------------------------------------------
  # Each command beside the `mariadb` client fetching the same data in the same hyperfine run (its
  # floor), then its peak RSS (/usr/bin/time -v) and the server connections it used.
  scale="$dir/scale.tsv" # command, median ms, mean ms, sd ms, floor, ratio, vs SHOW, rss, conns
  : >"$scale"
  if has_part scale; then
    n=$SCALE_N
    echo "== 7. every command at $n idle connections" >&2
    "$dir/scenario.sh" "$n"
    # The precise processlist every acting command reads (`read::processlist_sql`, MariaDB).
    is_pl="SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO, TIME_MS, QUERY_ID, NULL, MEMORY_USED FROM information_schema.PROCESSLIST"
    rest="SHOW GLOBAL STATUS; SHOW GLOBAL VARIABLES; SELECT * FROM information_schema.INNODB_TRX"
    # Floors: what each command fetches, by one mariadb client. diagnose and check judge from
    # SHOW FULL PROCESSLIST at this size (`read::SHOW_PROCESSLIST_FROM`); sessions and snapshot
    # read the precise table; watch reads that once, waits its --interval (100 ms, the least)
    # and reads status and the processlist again.
    # (hyperfine -N: no shell, the output is discarded by hyperfine.)
    floor_judge="$my -e 'SHOW FULL PROCESSLIST; $rest'"
    floor_precise="$my -e '$is_pl; $rest'"
    floor_watch="$my -e '$is_pl; $rest; SELECT SLEEP(0.1); SHOW GLOBAL STATUS; $is_pl'"
    floor_show="$my -e 'SHOW FULL PROCESSLIST'"
    declare -A scmd sfloor
    scmd[diagnose]="$cc ${cc_args[*]} diagnose --sample 0 --format json"
    scmd[check]="$cc ${cc_args[*]} check --sample 0 --format json"
    scmd[sessions]="$cc ${cc_args[*]} sessions --format json"
    scmd[sessions-table]="$cc ${cc_args[*]} sessions"
    scmd[snapshot]="$cc ${cc_args[*]} snapshot --sample 0 -o $dir/scale-snapshot.json"
    scmd[watch]="$cc ${cc_args[*]} watch --count 1 --interval 100ms"
    sfloor[diagnose]=floor_judge sfloor[check]=floor_judge sfloor[sessions]=floor_precise
    sfloor[sessions-table]=floor_precise sfloor[snapshot]=floor_precise sfloor[watch]=floor_watch
    scale_names="diagnose check sessions sessions-table snapshot watch"
    # Each command must really work at this size (hyperfine -i would time a quick failure).
    for c in $scale_names; do
      if ${scmd[$c]} >/dev/null 2>"$dir/scale-err.txt" || true; grep -q 'error' "$dir/scale-err.txt"; then
        echo "bench: conncheck $c failed at $n sessions:" >&2; cat "$dir/scale-err.txt" >&2; exit 1
      fi
    done
    f="$dir/scale-read.json"
    args=()
    for c in $scale_names; do args+=(-n "conncheck-$c" "${scmd[$c]}"); done
    # -i: check and diagnose exit non-zero on what they find.
    hf "$f" -N -i --warmup 2 --runs "$SCALE_RUNS" "${args[@]}" \
      -n floor_judge "$floor_judge" -n floor_precise "$floor_precise" -n floor_watch "$floor_watch" \
      -n floor_show "$floor_show"
    # The same commands taken in turns (every round runs each once, in a new random order): on a
    # shared machine hyperfine's back-to-back blocks drift with the load by more than the
    # difference measured. The goal is judged on these medians. (A rotation of one fixed order
    # would give each command the same predecessor every round, and what a command leaves the
    # server doing, such as dropping information_schema's temporary table, would fall on the
    # same neighbour every time.)
    turn_names=()
    for c in $scale_names; do turn_names+=("conncheck-$c"); done
    turn_names+=(floor_judge floor_precise floor_watch floor_show)
    for t in "${turn_names[@]}"; do : >"$dir/turn-$t.txt"; done
    turn_cmd() { case $1 in conncheck-*) echo "${scmd[${1#conncheck-}]}" ;; *) echo "${!1}" ;; esac; }
    for _ in $(seq "$SCALE_TURNS"); do
      for t in $(printf '%s\n' "${turn_names[@]}" | shuf); do
        c=$(turn_cmd "$t")
        t0=$(date +%s%N)
        bash -c "$c" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        awk -v d=$((t1 - t0)) 'BEGIN { printf "%.2f\n", d / 1e6 }' >>"$dir/turn-$t.txt"
      done
    done
    turn_ratio() { awk -v a="$(median_of "$dir/turn-$1.txt")" -v b="$(median_of "$dir/turn-$2.txt")" 'BEGIN { printf "%.2f", a / b }'; }
    srss() { maxrss bash -c "$1 >/dev/null"; }
    for fl in floor_judge floor_precise floor_watch floor_show; do
      (IFS=$'\t'; echo "mariadb-$fl	$(stat "$f" "$fl")	-	-	-	$(srss "${!fl}")	-	$(median_of "$dir/turn-$fl.txt")	-") >>"$scale"
    done
    for c in $scale_names; do
      fl=${sfloor[$c]}
      d=$(delta bash -c "${scmd[$c]}")
      (IFS=$'\t'; echo "conncheck-$c	$(stat "$f" "conncheck-$c")	mariadb-$fl	$(ratio "$f" "conncheck-$c" "$fl")	$(ratio "$f" "conncheck-$c" floor_show)	$(srss "${scmd[$c]}")	$d	$(median_of "$dir/turn-conncheck-$c.txt")	$(turn_ratio "conncheck-$c" "$fl")") >>"$scale"
    done
    # kill-idle of all SCALE_N sessions against its floor (the re-check read and one packet of
    # the KILLs), a fresh scenario before each run.
    echo "== 7. kill-idle of $n" >&2
    kf="$dir/scale-kill.json"
    hf "$kf" --warmup 1 --runs "$SCALE_KILL_RUNS" --prepare "$dir/scenario.sh $n" \
      -n conncheck-kill-idle "$kill_cmd" -n floor_recheck "$floor_recheck" \
      -n floor_oldest_first "$floor_oldest_first"
    # ... and in turns (a fresh scenario before each run, the order swapped every run).
    KILL_N=$n interleave "$SCALE_KILL_RUNS" conncheck-kill-idle "$kill_cmd" mariadb-recheck-and-packet "$floor_recheck"
    kt_c=$(median_of "$dir/il-conncheck-kill-idle.txt")
    kt_f=$(median_of "$dir/il-mariadb-recheck-and-packet.txt")
    kt_r=$(awk -v a="$kt_c" -v b="$kt_f" 'BEGIN { printf "%.2f", a / b }')
    "$dir/scenario.sh" "$n"
    krss=$(maxrss $kill_cmd)
    sleep 0.3
    kleft=$(sql "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'app'")
    "$dir/scenario.sh" "$n"
    kd=$(delta $kill_cmd)
    "$dir/scenario.sh" "$n"
    frss=$(maxrss bash -c "$floor_recheck")
    (IFS=$'\t'; echo "mariadb-recheck-and-packet	$(stat "$kf" floor_recheck)	-	-	-	$frss	-	$kt_f	-") >>"$scale"
    (IFS=$'\t'; echo "mariadb-recheck-and-packet, oldest first	$(stat "$kf" floor_oldest_first)	-	-	-	-	-	-	-") >>"$scale"
    (IFS=$'\t'; echo "conncheck-kill-idle ($((n - kleft)) killed)	$(stat "$kf" conncheck-kill-idle)	mariadb-recheck-and-packet	$(ratio "$kf" conncheck-kill-idle floor_recheck)	-	$krss	$kd	$kt_c	$kt_r") >>"$scale"
    if [ -s "$dir/scenario.pid" ]; then kill "$(cat "$dir/scenario.pid")" 2>/dev/null || true; fi
  fi

  # --- the report ------------------------------------------------------------------------------
  cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
  rev=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock examples || echo "+uncommitted")
  header() {
    echo "Generated by \`scripts/bench.sh\` on $(date -u +%Y-%m-%d) (UTC)."
    echo
    echo "- Machine: $(nproc) cores, ${cpu:-unknown CPU}, $(free -h | awk '/Mem:/ { print $2 }')B RAM, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo "- conncheck $rev ($("$cc" --version | awk '{ print $2 }'), $(rustc --version | awk '{ print $1, $2 }'))"
    echo "- $(mariadbd --version | sed 's/ for .*//;s/^mariadbd *//;s/^Ver/mariadbd/') · $(hyperfine --version) · $(pt-kill --version) · mysqltuner $(sed -n 's/^.*\$tunerversion *= *"\([^"]*\)".*/\1/p' "$(command -v mysqltuner)" | head -1)"
  }
  report="$dir/report.md"
  if has_part idle; then
  {
    header
    echo "- Runs: diagnose $RUNS (+$WARMUP warm-up), kill $KILL_RUNS (+1), status/mysqltuner $TUNER_RUNS (+1)."
    echo "  Ratios are of medians (hyperfine subtracts its own shell start-up where it uses one)."
    if [ "$tuner_rc" != 0 ]; then
      echo "  mysqltuner exited with $tuner_rc: $(grep -m1 -E '^(Illegal|Can.t|Uncaught|ERROR)' "$dir/tuner.out" || tail -1 "$dir/tuner.out")"
    fi
    echo
    echo "| what | N | command | median ms | mean ms | ± ms | vs | ratio | goal | |"
    echo "|---|---:|---|---:|---:|---:|---|---:|---|---|"
    awk -F'\t' '$1 != "memory" && $1 != "connections" { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$results"
    echo
    echo "Kill check (sessions of $KILL_N gone afterwards; COM_QUERY packets carrying KILL, by strace):"
    echo
    echo "| command | killed | KILL packets |"
    echo "|---|---:|---:|"
    for name in conncheck-kill-idle mariadb-recheck-and-packet mariadb-one-per-round-trip mariadb-one-packet pt-kill; do
      echo "| $name | ${killed[$name]} | ${sent[$name]} |"
    done
    echo
    echo "| what | N | measure | value | goal | |"
    echo "|---|---:|---|---:|---|---|"
    awk -F'\t' '$1 == "memory" || $1 == "connections" { printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $9, $10 }' "$results"
  } >"$report"
  echo
  cat "$report"
  fi
  report6="$dir/report6.md"
  if has_part shapes; then
  {
    header
    echo "- Runs: $SHAPE_RUNS per command (+2 warm-up), idle-5000 $RUNS (+3). Ratios are of medians."
    echo "  \`mariadb-same-data\` reads what conncheck reads (information_schema.PROCESSLIST with TIME_MS,"
    echo "  the lock tables, bounded like conncheck's reads at 20,001 rows); \`mariadb-show-processlist\` the"
    echo "  same with SHOW FULL PROCESSLIST."
    echo "  \`conncheck-check\` runs with its default 1 s status sample."
    echo
    echo "| shape | command | median ms | mean ms | ± ms | vs | ratio | goal | |"
    echo "|---|---|---:|---:|---:|---|---:|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9 }' "$shapes"
  } >"$report6"
  echo
  cat "$report6"
  fi
  report7="$dir/report7.md"
  if has_part scale; then
  {
    header
    echo "- $SCALE_N idle sessions (user \`app\`). Runs: $SCALE_RUNS per read-only command (+2 warm-up),"
    echo "  kill $SCALE_KILL_RUNS (+1, a fresh scenario before each), then $SCALE_TURNS rounds of every read-only"
    echo "  command and floor in turns (a new random order each round) and $SCALE_KILL_RUNS kills and floors in turns. Ratios are"
    echo "  of medians from the same run; the goal (ratio <= 1.0 in turns, < 50 MB, 1 connection) is judged in turns."
    echo "  Floors: \`floor_judge\` = SHOW FULL PROCESSLIST + status + variables + INNODB_TRX (what"
    echo "  diagnose/check read at this size), \`floor_precise\` = the same with information_schema.PROCESSLIST"
    echo "  (sessions, snapshot), \`floor_watch\` = floor_precise, SLEEP(0.1), status and the processlist"
    echo "  again (watch --count 1 --interval 100ms), \`floor_show\` = SHOW FULL PROCESSLIST alone."
    echo
    echo "| command | median ms | mean ms | ± ms | floor | ratio | vs SHOW FULL PROCESSLIST | in turns: median ms | in turns: ratio | max RSS MB | connections | goal |"
    echo "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|"
    awk -F'\t' '{ g = "-"; if ($5 != "-") g = (($11 + 0 <= 1.0 && $8 + 0 < 50 && $9 == 1) ? "met" : "MISSED"); printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $10, $11, $8, $9, g }' "$scale"
  } >"$report7"
  echo
  cat "$report7"
  fi
  if grep -q MISSED "$results" "$shapes" "$dir"/report7.md 2>/dev/null; then echo; echo "Some goals were MISSED (see above)."; fi

  if [ -z "${NO_WRITE:-}" ]; then
    # write_block BEGIN_MARKER REPORT: replace the generated block (added at the end when missing).
    write_block() {
      local begin=$1 r=$2 end='<!-- END GENERATED -->'
      [ -f BENCHMARKS.md ] || printf '# Benchmarks\n\n' >BENCHMARKS.md
      grep -qF "$begin" BENCHMARKS.md || printf '\n%s\n%s\n' "$begin" "$end" >>BENCHMARKS.md
      awk -v b="$begin" -v e="$end" -v r="$r" '
        $0 == b { print; while ((getline l < r) > 0) print l; skip = 1; next }
        $0 == e && skip { skip = 0 }
        !skip' BENCHMARKS.md >"$dir/BENCHMARKS.md"
      cp "$dir/BENCHMARKS.md" BENCHMARKS.md
    }
    has_part idle && write_block '<!-- BEGIN GENERATED by scripts/bench.sh: do not edit by hand -->' "$report"
    has_part shapes && write_block '<!-- BEGIN GENERATED incident shapes by scripts/bench.sh: do not edit by hand -->' "$report6"
    has_part scale && write_block '<!-- BEGIN GENERATED scale by scripts/bench.sh: do not edit by hand -->' "$report7"
    echo "(written to BENCHMARKS.md)"
  fi
}

set -m # the work gets its own process group, and Ctrl-C reaches it through the trap only
bench </dev/null &
worker=$!
set +m
wait "$worker"
