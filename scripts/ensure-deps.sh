#!/usr/bin/env bash
# Install what a fresh Debian/Ubuntu machine lacks for conncheck's tests, demo and benchmark:
# the MariaDB server and client (tests start private servers), rustfmt and clippy.
# Usage: scripts/ensure-deps.sh [extra apt packages...]
set -euo pipefail
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

missing=()
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
# tests/connect_faults.rs makes TLS certificates with the openssl command.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# tests/files.rs measures replay memory with GNU time under prlimit (util-linux), and makes FIFOs
# with mkfifo (coreutils).
[ -x /usr/bin/time ] || missing+=(time)
command -v prlimit >/dev/null 2>&1 || missing+=(util-linux)
for pkg in "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}'" >&2
    exit 1
  fi
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi
