#!/usr/bin/env bash
# The whole test run, from a fresh clone on a fresh machine (as root, no standard input):
#   1. installs the Debian packages the tests use (only those missing),
#   2. finds or installs deno (scripts/ensure-deno.sh),
#   3. builds the real test tools into ${LOCALD_TEST_CACHE:-/var/cache/locald-test}
#      (scripts/test-tools.sh; cached, seconds on a second run),
#   4. runs `deno test -A --parallel` over tests/ and src/.
# Extra arguments go to `deno test`; when one of them is an existing path, only the given paths
# are tested (e.g. `bash scripts/test.sh tests/tools_test.ts --filter setup`).
# Ends with "N passed, N failed" and exits non-zero when a test failed or none ran.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export LOCALD_TEST_CACHE=${LOCALD_TEST_CACHE:-/var/cache/locald-test}
export DEBIAN_FRONTEND=noninteractive
export PATH="/usr/local/go/bin:$PATH"

log() { printf 'test: %s\n' "$*" >&2; }

PACKAGES=(bubblewrap skopeo umoci docker-registry hyperfine direnv zsh fish ruby apache2-utils unzip dash shellcheck busybox-static mmdebstrap)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
  log "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq </dev/null
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

DENO=$(bash scripts/ensure-deno.sh </dev/null)
log "deno: $DENO ($("$DENO" --version | head -1))"
# The stand-ins for limactl and wsl.exe (tests/standins/) run on deno found on PATH: put the one
# this script found or installed there, wherever it lives.
export PATH="$(dirname "$DENO"):$PATH"

bash scripts/test-tools.sh </dev/null >/dev/null

targets=(tests/ src/)
for a in "$@"; do
  if [[ "$a" != -* && -e "$a" ]]; then
    targets=()
    break
  fi
done

out=$(mktemp /tmp/locald-test-output.XXXXXX)
trap 'rm -f "$out"' EXIT
set +e
NO_COLOR=1 "$DENO" test -A --parallel "$@" "${targets[@]}" </dev/null 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e

# deno's closing line: "ok | 12 passed | 0 failed (3s)" or "FAILED | 10 passed | 2 failed (...)",
# with "| N passed (N steps)" and "| N ignored" / "| N filtered out" where they apply.
line=$(grep -E '^(ok|FAILED) \| [0-9]+ passed' "$out" | tail -1 || true)
passed=$(sed -nE 's/^[A-Z a-z]+\| ([0-9]+) passed.*/\1/p' <<<"$line")
failed=$(sed -nE 's/.*\| ([0-9]+) failed.*/\1/p' <<<"$line")
ignored=$(sed -nE 's/.*\| ([0-9]+) ignored.*/\1/p' <<<"$line")
passed=${passed:-0}
failed=${failed:-0}
if [[ -z "$line" && $rc -ne 0 ]]; then
  # deno stopped before running tests (type errors, a bad path): count that as one failure.
  failed=1
fi
echo
if [[ -n "$ignored" && "$ignored" != 0 ]]; then
  echo "$passed passed, $failed failed, $ignored skipped"
else
  echo "$passed passed, $failed failed"
fi
if ((rc == 0 && passed == 0)); then
  log "no test ran"
  exit 1
fi
exit "$rc"
