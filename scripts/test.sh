#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what a fresh machine lacks, then
# runs the same checks as CI: cargo fmt --check, clippy with -D warnings, cargo test --locked.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"

missing=()
command -v mariadbd >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 || missing+=(mariadb-client)
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "scripts/test.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "scripts/test.sh: missing ${missing[*]}: run 'sudo apt-get install -y ${missing[*]}'" >&2
    exit 1
  fi
fi
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
