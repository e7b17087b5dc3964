#!/usr/bin/env bash
# The project's one test command (README, .ci/run): installs what a fresh machine lacks, then
# runs the same checks as CI: cargo fmt --check, clippy with -D warnings, cargo test --locked.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/usr/local/sbin"
scripts/ensure-deps.sh

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
