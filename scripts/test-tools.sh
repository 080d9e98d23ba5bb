#!/usr/bin/env bash
# Builds the real tools the tests use into ${LOCALD_TEST_CACHE:-/var/cache/locald-test}:
#
#   mirror/lifecycle/   the CNB lifecycle v0.21.17 release tarballs for linux x86-64 and arm64,
#                       built from its Go module and packed by its own packager, plus the
#                       release's checksums file in the upstream format (path, then digest)
#   lifecycle/          the host's tarball unpacked (for LOCALD_LIFECYCLE_DIR)
#   buildpacks/         the CNB project's own test buildpacks, shipped in the pack Go module
#   bin/limactl         Lima's limactl v2.2.0, with share/lima/ beside bin/
#   stack/              two Debian trixie userlands made by mmdebstrap (minbase), as gzip'd tar
#                       layers with their digests: build.tar.gz (+ lua5.4 and m4) and
#                       run.tar.gz (+ liblua5.4-0, libreadline8t64 and busybox: what lua5.4 needs,
#                       and an HTTP server), for the stack-mode images
#
# Idempotent: each part has a stamp; a second run takes seconds. Nothing here is committed.
# Prints the variables to export at the end.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LOCALD_TEST_CACHE:-/var/cache/locald-test}
LC_VERSION=0.21.17
PACK_VERSION=0.40.0
LIMA_VERSION=2.2.0
# Bump one when its recipe below changes, so stale caches are rebuilt.
LC_RECIPE=3
BP_RECIPE=3
LIMA_RECIPE=4
STACK_RECIPE=1
STACK_SUITE=trixie

export PATH="/usr/local/go/bin:$PATH"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOTOOLCHAIN=local

log() { printf 'test-tools: %s\n' "$*" >&2; }
die() {
  printf 'test-tools: error: %s\n' "$*" >&2
  exit 1
}

command -v go >/dev/null || die "go is not installed (expected /usr/local/go/bin/go)"

umask 022
mkdir -p "$CACHE" "$CACHE/.stamps" "$CACHE/build"
chmod 0755 "$CACHE"
# One builder at a time: two test runs started together on one machine would otherwise build
# into the same temporary directories.
exec 9>"$CACHE/.lock"
flock 9

# stamp NAME KEY: true when the stamp holds KEY.
stamp_ok() { [[ -f "$CACHE/.stamps/$1" && "$(cat "$CACHE/.stamps/$1")" == "$2" ]]; }
stamp_set() { printf '%s' "$2" >"$CACHE/.stamps/$1"; }

# Replace DEST with the freshly built SRC in one rename (the old copy is removed afterwards).
swap_in() {
  local src=$1 dest=$2
  if [[ -e "$dest" ]]; then
    mv "$dest" "$dest.old.$$"
    mv "$src" "$dest"
    rm -rf "$dest.old.$$"
  else
    mkdir -p "$(dirname "$dest")"
    mv "$src" "$dest"
  fi
}

module_dir() { # module@version -> its directory in the module cache
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

host_goarch() {
  case "$(uname -m)" in
  x86_64 | amd64) echo amd64 ;;
  aarch64 | arm64) echo arm64 ;;
  *) die "unsupported host architecture $(uname -m)" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# CNB lifecycle
# ---------------------------------------------------------------------------------------------
build_lifecycle() {
  local stand_in="$REPO/tests/tools/kaniko-unavailable"
  [[ -f "$stand_in/go.mod" ]] || die "missing $stand_in (the kaniko stand-in module)"
  local key
  key="v$LC_VERSION recipe $LC_RECIPE go $(go env GOVERSION) kaniko-stand-in $(cd "$stand_in" &&
    find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
  local mirror="$CACHE/mirror/lifecycle"
  local x86="$mirror/lifecycle-v$LC_VERSION+linux.x86-64.tgz"
  local arm="$mirror/lifecycle-v$LC_VERSION+linux.arm64.tgz"
  if stamp_ok lifecycle "$key" && [[ -f "$x86" && -f "$arm" && -x "$CACHE/lifecycle/lifecycle/launcher" ]]; then
    log "lifecycle v$LC_VERSION: cached"
    return
  fi
  log "lifecycle v$LC_VERSION: building from its Go module (linux amd64 and arm64)"

  # A throwaway module that requires the lifecycle and swaps kaniko (extender only, refused by
  # the module proxy) for the stand-in. The stand-in is copied so the cache does not depend on
  # where this clone lives.
  local mod="$CACHE/build/lifecycle-module"
  rm -rf "$mod"
  mkdir -p "$mod"
  cp -r "$stand_in" "$mod/kaniko-unavailable"
  cat >"$mod/go.mod" <<EOF
module locald.test/lifecycle-build

go 1.24

require github.com/buildpacks/lifecycle v$LC_VERSION

replace github.com/osscontainertools/kaniko => ./kaniko-unavailable
EOF
  cat >"$mod/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "github.com/buildpacks/lifecycle/cmd/launcher"
	_ "github.com/buildpacks/lifecycle/cmd/lifecycle"
)
EOF
  local lcdir
  # `go list -m` prints nothing while the module is not in the module cache yet (a new machine):
  # ask `go mod download`, which fetches it and names its directory.
  lcdir=$(module_dir "github.com/buildpacks/lifecycle@v$LC_VERSION")
  [[ -f "$lcdir/lifecycle.toml" ]] || die "no lifecycle.toml in $lcdir"

  local ldflags="-s -w -X 'github.com/buildpacks/lifecycle/cmd.Version=$LC_VERSION'"
  local out="$CACHE/build/lifecycle-out"
  rm -rf "$out"
  mkdir -p "$out/dist"
  local goarch
  for goarch in amd64 arm64; do
    local dir="$out/linux-$goarch/lifecycle"
    mkdir -p "$dir"
    local cmd
    for cmd in lifecycle launcher; do
      log "  go build $cmd (linux/$goarch)"
      (cd "$mod" && CGO_ENABLED=0 GOOS=linux GOARCH=$goarch \
        go build -ldflags "$ldflags" -o "$dir/$cmd" "github.com/buildpacks/lifecycle/cmd/$cmd")
    done
    local phase
    for phase in analyzer detector restorer builder exporter rebaser creator extender; do
      ln -sf lifecycle "$dir/$phase"
    done
    local asset
    case $goarch in
    amd64) asset="lifecycle-v$LC_VERSION+linux.x86-64.tgz" ;;
    arm64) asset="lifecycle-v$LC_VERSION+linux.arm64.tgz" ;;
    esac
    log "  packaging $asset with the upstream packager"
    # The packager changes directory before writing ARCHIVE.sha256: absolute paths only.
    (cd "$mod" && go run github.com/buildpacks/lifecycle/tools/packager \
      -inputDir "$dir" -archivePath "$out/dist/$asset" \
      -descriptorPath "$lcdir/lifecycle.toml" -version "$LC_VERSION" >&2)
  done
  # Upstream's release job concatenates the packager's .sha256 files and sorts them: each line
  # is "<archive path>  <hex digest>".
  cat "$out"/dist/*.sha256 | LC_ALL=C sort >"$out/dist/lifecycle-v$LC_VERSION-checksums.txt"
  rm "$out"/dist/*.sha256
  chmod 0644 "$out"/dist/*

  local host_asset
  case "$(host_goarch)" in
  amd64) host_asset="lifecycle-v$LC_VERSION+linux.x86-64.tgz" ;;
  arm64) host_asset="lifecycle-v$LC_VERSION+linux.arm64.tgz" ;;
  esac
  mkdir -p "$out/unpacked"
  tar -xzf "$out/dist/$host_asset" -C "$out/unpacked"
  [[ -x "$out/unpacked/lifecycle/launcher" && -L "$out/unpacked/lifecycle/detector" ]] ||
    die "the packaged lifecycle lacks lifecycle/launcher or the phase symlinks"
  local got
  got=$("$out/unpacked/lifecycle/lifecycle" -version 2>&1 || true)
  [[ "$got" == *"$LC_VERSION"* ]] || die "the built lifecycle reports version '$got'"

  mkdir -p "$CACHE/mirror"
  chmod 0755 "$CACHE/mirror"
  swap_in "$out/dist" "$mirror"
  swap_in "$out/unpacked" "$CACHE/lifecycle"
  chmod 0755 "$mirror" "$CACHE/lifecycle"
  rm -rf "$out"
  stamp_set lifecycle "$key"
  log "lifecycle v$LC_VERSION: done"
}

# ---------------------------------------------------------------------------------------------
# Buildpacks: the CNB project's own test buildpacks from the pack module (Paketo's modules are
# not served by the module proxy these machines reach).
# ---------------------------------------------------------------------------------------------
copy_buildpacks() {
  local key="pack v$PACK_VERSION recipe $BP_RECIPE"
  if stamp_ok buildpacks "$key" && [[ -f "$CACHE/buildpacks/simple-layers-buildpack/buildpack.toml" ]]; then
    log "buildpacks (pack v$PACK_VERSION): cached"
    return
  fi
  log "buildpacks: copying pack v$PACK_VERSION's mock buildpacks"
  local dir
  dir=$(module_dir "github.com/buildpacks/pack@v$PACK_VERSION")
  [[ -d "$dir/acceptance/testdata/mock_buildpacks" ]] || die "pack v$PACK_VERSION has no mock_buildpacks"
  local tmp="$CACHE/build/buildpacks.tmp"
  rm -rf "$tmp"
  cp -r "$dir/acceptance/testdata/mock_buildpacks" "$tmp"
  chmod -R u+w,go-w,a+rX "$tmp"
  # Module zips carry no exec bits: restore them on the buildpacks' programs.
  find "$tmp" -path '*/bin/*' -type f ! -name '*.bat' -exec chmod 0755 {} +
  swap_in "$tmp" "$CACHE/buildpacks"
  stamp_set buildpacks "$key"
}

# ---------------------------------------------------------------------------------------------
# limactl (validate only: no VM can boot here). limactl refuses to run as root.
# ---------------------------------------------------------------------------------------------
build_limactl() {
  local key="lima v$LIMA_VERSION recipe $LIMA_RECIPE go $(go env GOVERSION)"
  if stamp_ok limactl "$key" && [[ -x "$CACHE/bin/limactl" && -d "$CACHE/share/lima/templates" ]]; then
    log "limactl v$LIMA_VERSION: cached"
    return
  fi
  log "limactl v$LIMA_VERSION: building from its Go module"
  local dir
  dir=$(module_dir "github.com/lima-vm/lima/v2@v$LIMA_VERSION")
  [[ -d "$dir/cmd/limactl" ]] || die "lima v$LIMA_VERSION has no cmd/limactl"
  local tmp="$CACHE/build/lima.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp/bin" "$tmp/share/lima"
  # Build from a writable copy: go may want to touch go.sum, and the module cache is read-only.
  cp -r "$dir" "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src" && CGO_ENABLED=0 go build \
    -ldflags "-s -w -X github.com/lima-vm/lima/v2/pkg/version.Version=v$LIMA_VERSION" \
    -o "$tmp/bin/limactl" ./cmd/limactl)
  cp -r "$tmp/src/templates" "$tmp/share/lima/templates"
  restore_template_aliases "$tmp/share/lima/templates"
  chmod -R a+rX "$tmp/share"
  rm -rf "$tmp/src"
  mkdir -p "$CACHE/bin" "$CACHE/share"
  mv -f "$tmp/bin/limactl" "$CACHE/bin/limactl"
  rm -rf "$CACHE/share/lima"
  mv "$tmp/share/lima" "$CACHE/share/lima"
  rm -rf "$tmp"
  chmod 0755 "$CACHE/bin" "$CACHE/share" "$CACHE/share/lima"
  stamp_set limactl "$key"
}

# Module zips drop symlinks, and Lima's short template names (ubuntu, debian, ...) are symlinks
# in its repository. Its templates/README.md lists them ("- [`ubuntu-26.04`](./ubuntu-26.04.yaml),
# `ubuntu`, `ubuntu-lts`: ..."): recreate each alias beside its target, in templates/ and
# templates/_images/.
restore_template_aliases() {
  local tdir=$1 line target alias sub
  while IFS= read -r line; do
    target=$(sed -E 's/^- \[`([^`]+)`\].*/\1/' <<<"$line")
    for alias in $(sed -E 's/^[^)]*\)//; s/:.*//' <<<"$line" | grep -oE '`[^`]+`' | tr -d '`'); do
      for sub in "" "_images/"; do
        local dir="$tdir/$sub$(dirname "$target")"
        if [[ -f "$tdir/$sub$target.yaml" && ! -e "$tdir/$sub$alias.yaml" ]]; then
          ln -s "$(basename "$target").yaml" "$dir/$(basename "$alias").yaml"
        fi
      done
    done
  done < <(grep -E '^- \[`[^`]+`\]\(\./[^)]+\.yaml\)(, `[^`]+`)+:' "$tdir/README.md")
}

check_limactl() {
  # limactl exits at once for uid 0: run it as nobody with a private LIMA_HOME.
  local home
  home=$(mktemp -d /tmp/locald-lima-check.XXXXXX)
  chmod 0777 "$home"
  if ! as_nobody env HOME="$home" LIMA_HOME="$home/lima" "$CACHE/bin/limactl" validate \
    "$CACHE/share/lima/templates/default.yaml" >"$home/out" 2>&1; then
    cat "$home/out" >&2
    rm -rf "$home"
    die "limactl validate failed on Lima's default template"
  fi
  rm -rf "$home"
  log "limactl v$LIMA_VERSION: validate works"
}

as_nobody() {
  if [[ $(id -u) -ne 0 ]]; then
    "$@"
  else
    setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
  fi
}

# The devcontainers CLI (npm), whose read-configuration checks generated devcontainer files.
DEVCONTAINERS_CLI_VERSION=0.89.0
install_devcontainers_cli() {
  local key="devcontainers-cli-$DEVCONTAINERS_CLI_VERSION"
  if stamp_ok devcontainers "$key" && [[ -x "$CACHE/devcontainers/node_modules/.bin/devcontainer" ]]; then
    return
  fi
  log "installing @devcontainers/cli $DEVCONTAINERS_CLI_VERSION"
  rm -rf "$CACHE/build/devcontainers.tmp"
  mkdir -p "$CACHE/build/devcontainers.tmp"
  npm install --no-audit --no-fund --silent --prefix "$CACHE/build/devcontainers.tmp" \
    "@devcontainers/cli@$DEVCONTAINERS_CLI_VERSION" </dev/null >&2
  swap_in "$CACHE/build/devcontainers.tmp" "$CACHE/devcontainers"
  stamp_set devcontainers "$key"
}

# ---------------------------------------------------------------------------------------------
# Stack userlands: real Debian trixie root filesystems (a newer glibc than this bookworm host)
# for the builder and run images of the stack-mode tests. The build userland has a build-time
# tool (m4) and a program (lua5.4) linked against a library (liblua5.4-0) that this host does
# not have; the run userland has the library but not the tool, and busybox for an HTTP server.
# Both have a `cnb` user and group (1000). Each is a gzip'd tar layer plus a JSON file with its
# digest, diff ID and sizes (tests/support/stack_images.ts pushes them as they are).
# ---------------------------------------------------------------------------------------------
STACK_BUILD_PACKAGES=lua5.4,m4
STACK_RUN_PACKAGES=liblua5.4-0,libreadline8t64,busybox

# The Debian mirror apt uses on this machine (its first non-security source), else Debian's.
debian_mirror() {
  if [[ -n "${LOCALD_TEST_DEBIAN_MIRROR:-}" ]]; then
    echo "$LOCALD_TEST_DEBIAN_MIRROR"
    return
  fi
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' | grep -v -- '-security' |
    grep -E '/debian/?$' | head -1 || true)
  if [[ -z "$uri" ]]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' |
      grep -v -- '-security' | grep -E '/debian/?$' | head -1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

build_stack_userlands() {
  local key="$STACK_SUITE recipe $STACK_RECIPE build $STACK_BUILD_PACKAGES run $STACK_RUN_PACKAGES"
  local dest="$CACHE/stack"
  if stamp_ok stack "$key" && [[ -f "$dest/build.json" && -f "$dest/run.json" ]]; then
    log "stack userlands ($STACK_SUITE): cached"
    return
  fi
  command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (scripts/test.sh installs it)"
  local mirror
  mirror=$(debian_mirror)
  log "stack userlands: mmdebstrap $STACK_SUITE minbase from $mirror (build and run)"
  local tmp="$CACHE/build/stack.tmp"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local cnb_user='echo "cnb:x:1000:1000:CNB user:/home/cnb:/bin/bash" >>"$1/etc/passwd"
echo "cnb:x:1000:" >>"$1/etc/group"
mkdir -p "$1/home/cnb" && chown 1000:1000 "$1/home/cnb"'
  local kind packages
  for kind in build run; do
    packages=$STACK_RUN_PACKAGES
    [[ $kind == build ]] && packages=$STACK_BUILD_PACKAGES
    mmdebstrap --quiet --variant=minbase --mode=root --include="$packages" \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --dpkgopt='path-include=/usr/share/locale/locale.alias' \
      --customize-hook="$cnb_user" \
      --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/log/*.log "$1"/var/log/apt/*' \
      "$STACK_SUITE" "$tmp/$kind.tar" "$mirror" </dev/null >&2 ||
      die "mmdebstrap failed for the $kind userland"
    local diff size
    diff=$(sha256sum "$tmp/$kind.tar" | cut -d' ' -f1)
    size=$(stat -c %s "$tmp/$kind.tar")
    gzip -n -6 "$tmp/$kind.tar"
    printf '{"digest":"sha256:%s","diffId":"sha256:%s","size":%s,"tarSize":%s,"suite":"%s","packages":"%s"}\n' \
      "$(sha256sum "$tmp/$kind.tar.gz" | cut -d' ' -f1)" "$diff" \
      "$(stat -c %s "$tmp/$kind.tar.gz")" "$size" "$STACK_SUITE" "$packages" >"$tmp/$kind.json"
  done
  chmod 0755 "$tmp"
  chmod 0644 "$tmp"/*
  swap_in "$tmp" "$dest"
  stamp_set stack "$key"
  log "stack userlands: done ($(du -sh "$dest" | cut -f1))"
}

# `--only lifecycle` builds just the lifecycle release (what scripts/demo.sh needs).
if [[ "${1:-}" == "--only" && "${2:-}" == "lifecycle" ]]; then
  build_lifecycle
  exit 0
fi
build_lifecycle
copy_buildpacks
build_limactl
check_limactl
install_devcontainers_cli
build_stack_userlands
rm -rf "$CACHE/build/buildpacks.tmp" "$CACHE/build/lima.tmp"

cat <<EOF
export LOCALD_TEST_CACHE=$CACHE
export LOCALD_LIFECYCLE_DIR=$CACHE/lifecycle
# lifecycle release files and checksums (serve them with tests/support/mirror.ts and point
# LOCALD_LIFECYCLE_MIRROR at its URL): $CACHE/mirror/lifecycle
# stack userlands (gzip'd tar layers, digests in *.json): $CACHE/stack/build.tar.gz, run.tar.gz
# buildpacks: $CACHE/buildpacks   limactl (refuses uid 0): $CACHE/bin/limactl
EOF
