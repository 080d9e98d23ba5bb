#!/usr/bin/env bash
# Runs every benchmark in bench/ and rewrites bench/results/. Needs the test tools
# (scripts/test-tools.sh) and hyperfine.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DENO=$(bash "$REPO/scripts/ensure-deno.sh" </dev/null)
bash "$REPO/scripts/test-tools.sh" >/dev/null
for b in "$REPO"/bench/*.ts; do
  echo "== $(basename "$b")" >&2
  "$DENO" run -A "$b"
done
