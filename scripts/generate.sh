#!/usr/bin/env bash
# Regenerate completions/ and man/ from the clap definition (tests/generated.rs checks them).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet
bin=${CARGO_TARGET_DIR:-target}/debug/conncheck
mkdir -p completions man
"$bin" completions bash > completions/conncheck.bash
"$bin" completions zsh > completions/_conncheck
"$bin" completions fish > completions/conncheck.fish
"$bin" completions elvish > completions/conncheck.elv
"$bin" completions powershell > completions/_conncheck.ps1
rm -f man/*.1
"$bin" man man
echo "completions/ and man/ regenerated"
