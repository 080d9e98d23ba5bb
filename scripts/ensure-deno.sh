#!/usr/bin/env bash
# Prints the path of a deno >= 2.9. Uses `deno` on PATH when it is new enough; otherwise installs
# the pinned npm package deno@2.9.6 into ${LOCALD_DEV_CACHE:-/var/cache/locald-dev}/deno and
# prints the platform binary it ships. (npm skips the package's postinstall script here; the
# binary is in node_modules all the same.)
set -euo pipefail

DENO_VERSION=2.9.6
MIN_MAJOR=2
MIN_MINOR=9
CACHE=${LOCALD_DEV_CACHE:-/var/cache/locald-dev}

log() { printf 'ensure-deno: %s\n' "$*" >&2; }

suitable() { # path -> true when it runs and reports >= MIN
  local v
  v=$("$1" --version 2>/dev/null | sed -n 's/^deno \([0-9][0-9]*\)\.\([0-9][0-9]*\)\..*/\1 \2/p') || return 1
  [[ -n "$v" ]] || return 1
  local major=${v% *} minor=${v#* }
  ((major > MIN_MAJOR || (major == MIN_MAJOR && minor >= MIN_MINOR)))
}

if command -v deno >/dev/null 2>&1 && suitable "$(command -v deno)"; then
  command -v deno
  exit 0
fi

dir="$CACHE/deno"
find_binary() {
  local c
  for c in "$dir"/node_modules/@deno/linux-*/deno "$dir"/node_modules/@deno/darwin-*/deno \
    "$dir"/node_modules/deno/deno; do
    if [[ -f "$c" ]]; then
      chmod +x "$c" 2>/dev/null || true
      if suitable "$c"; then
        echo "$c"
        return 0
      fi
    fi
  done
  return 1
}

if find_binary; then exit 0; fi

command -v npm >/dev/null 2>&1 || {
  log "no deno >= $MIN_MAJOR.$MIN_MINOR on PATH and no npm to install deno@$DENO_VERSION"
  log "install Node.js and npm (apt-get install -y npm), then run this again"
  exit 1
}
log "installing deno@$DENO_VERSION with npm into $dir"
mkdir -p "$dir"
# A private package.json so the install never touches the project's own files.
[[ -f "$dir/package.json" ]] || printf '{ "private": true }\n' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "deno@$DENO_VERSION" </dev/null >&2 ||
  log "npm install reported an error; looking for the binary anyway"
if find_binary; then exit 0; fi
log "deno@$DENO_VERSION was installed but no usable binary was found under $dir/node_modules"
exit 1
