#!/usr/bin/env bash
# The main job, end to end on a fresh machine: build the bundled example app
# (examples/hello) with the real CNB lifecycle and enter its development environment.
#
# It installs what it needs: Deno (scripts/ensure-deno.sh, from the npm registry when no
# suitable deno is on PATH) and the lifecycle. These build machines cannot reach GitHub, so the
# lifecycle release is built from its Go module (scripts/test-tools.sh --only lifecycle) and
# served from a loopback mirror; locald downloads, verifies and installs it from there exactly
# as it would from GitHub (LOCALD_LIFECYCLE_MIRROR). Set LOCALD_DEMO_NO_MIRROR=1 on a machine
# that can reach GitHub to use the real release instead.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export LOCALD_TEST_CACHE=${LOCALD_TEST_CACHE:-/var/cache/locald-test}
export PATH="/usr/local/go/bin:$PATH"

DENO=$(bash scripts/ensure-deno.sh </dev/null)
locald() { "$DENO" run -A --quiet "$REPO/main.ts" "$@"; }

mirror_pid=
cleanup() { [[ -n "$mirror_pid" ]] && kill "$mirror_pid" 2>/dev/null || true; }
trap cleanup EXIT

if [[ -z "${LOCALD_DEMO_NO_MIRROR:-}" ]]; then
  echo "demo: building the CNB lifecycle v0.21.17 release from its Go module (cached after the first run)" >&2
  bash scripts/test-tools.sh --only lifecycle </dev/null >/dev/null
  url_file=$(mktemp)
  "$DENO" run -A --quiet scripts/serve-mirror.ts "$LOCALD_TEST_CACHE/mirror/lifecycle" >"$url_file" &
  mirror_pid=$!
  for _ in $(seq 1 100); do [[ -s "$url_file" ]] && break; sleep 0.1; done
  export LOCALD_LIFECYCLE_MIRROR=$(cat "$url_file")
  rm -f "$url_file"
  echo "demo: serving it at $LOCALD_LIFECYCLE_MIRROR" >&2
fi

step() {
  printf '\n$ locald %s\n' "$*" >&2
  locald "$@"
}
step build -C examples/hello
step exec -C examples/hello -- hello
step shell -C examples/hello -c 'echo "hello is $(command -v hello)"; hello from-the-shell'
step run -C examples/hello greet
if [[ -t 0 && -t 1 ]]; then
  echo "demo: entering the example's shell; type exit to leave" >&2
  locald shell -C examples/hello
fi
