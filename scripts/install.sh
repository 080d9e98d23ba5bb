#!/bin/sh
# Installs locald from its GitHub releases (Linux and macOS, x86_64 and arm64).
#
#   curl -fsSL https://github.com/locald-dev/locald/releases/latest/download/install.sh | sh
#   curl -fsSL .../install.sh | sh -s -- [--yes] [--no-modify-path] [VERSION]
#
#   VERSION               a release such as 1.2.3 or v1.2.3 (default: the latest release)
#   --yes, -y             answer yes: add the install directory to PATH in your shell's profile
#   --no-modify-path      never touch shell profiles (only say how, when run in a terminal)
#
#   LOCALD_INSTALL        install directory (default: ~/.local/bin)
#   LOCALD_DOWNLOAD_URL   releases base URL (default: the project's GitHub releases), laid out
#                         as BASE/latest/download/ASSET and BASE/download/vVERSION/ASSET
#
# The archive is checked against the release's SHA256SUMS before anything is installed, and the
# binary is moved into place with one rename, so an existing locald is either the old one or the
# new one, never half-written.
set -eu

# The project, in one place (kept equal to scripts/release/project.ts by the tests).
LOCALD_REPO="locald-dev/locald"
RELEASES_URL="https://github.com/${LOCALD_REPO}/releases"

me="locald-install"
say() { printf '%s\n' "$*" >&2; }
die() {
  # die CODE MESSAGE [HINT]
  code=$1
  printf '%s: error: %s\n' "$me" "$2" >&2
  if [ $# -ge 3 ]; then printf 'hint: %s\n' "$3" >&2; fi
  exit "$code"
}

usage() {
  cat <<EOF
Usage: install.sh [--yes] [--no-modify-path] [VERSION]

Installs locald into \$LOCALD_INSTALL (default ~/.local/bin), verified against the release's
SHA256SUMS. VERSION defaults to the latest release.
EOF
}

yes=0
modify_path=1
version=""
while [ $# -gt 0 ]; do
  case $1 in
    -y | --yes) yes=1 ;;
    --no-modify-path) modify_path=0 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die 2 "unknown option $1" "run with --help for the options" ;;
    *)
      [ -z "$version" ] || die 2 "more than one version given ($version, $1)"
      version=${1#v}
      ;;
  esac
  shift
done
if [ -n "$version" ]; then
  case $version in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *) die 2 "\"$version\" is not a version" "pass a release version such as 1.2.3" ;;
  esac
fi

# --- where are we ------------------------------------------------------------------------------
os_name=$(uname -s 2>/dev/null || echo unknown)
arch_name=$(uname -m 2>/dev/null || echo unknown)
case $os_name in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW* | MSYS* | CYGWIN* | Windows_NT)
    die 1 "install.sh does not install on Windows ($os_name)" \
      "use Scoop (scoop bucket add locald https://github.com/${LOCALD_REPO%/*}/scoop-bucket; scoop install locald) or, in PowerShell: irm ${RELEASES_URL}/latest/download/install.ps1 | iex"
    ;;
  *) die 1 "unsupported operating system: $os_name" "locald ships for Linux, macOS and Windows" ;;
esac
case $arch_name in
  x86_64 | amd64) arch=x86_64 ;;
  arm64 | aarch64) arch=aarch64 ;;
  *) die 1 "unsupported CPU architecture: $arch_name ($os_name)" "locald ships for x86_64 and arm64" ;;
esac
# An x86_64 shell under Rosetta on Apple silicon: install the native arm64 build.
if [ "$os" = darwin ] && [ "$arch" = x86_64 ] &&
  [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || echo 0)" = 1 ]; then
  arch=aarch64
fi
asset="locald-${os}-${arch}.tar.gz"

base=${LOCALD_DOWNLOAD_URL:-$RELEASES_URL}
base=${base%/}
if [ -n "$version" ]; then
  dl="${base}/download/v${version}"
else
  dl="${base}/latest/download"
fi

if [ -n "${LOCALD_INSTALL:-}" ]; then
  dir=$LOCALD_INSTALL
else
  [ -n "${HOME:-}" ] || die 1 "HOME is not set" "set LOCALD_INSTALL to the directory to install into"
  dir="$HOME/.local/bin"
fi

# --- tools ------------------------------------------------------------------------------------
if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 3 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die 1 "neither curl nor wget is installed" "install one of them and rerun"
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
  die 1 "neither sha256sum nor shasum is installed, so the download cannot be verified" \
    "install coreutils (sha256sum) or perl's shasum and rerun"
fi
command -v tar >/dev/null 2>&1 || die 1 "tar is not installed" "install tar and rerun"

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t locald-install)
staged=""
cleanup() {
  rm -rf "$tmp"
  if [ -n "$staged" ]; then rm -f "$staged"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- download and verify ----------------------------------------------------------------------
say "Downloading locald ${version:-(latest)} for ${os}/${arch}"
fetch "${dl}/${asset}" "$tmp/$asset" ||
  die 1 "cannot download ${dl}/${asset}" \
    "check the version (${version:-latest}) exists and that you are online; LOCALD_DOWNLOAD_URL sets a mirror"
fetch "${dl}/SHA256SUMS" "$tmp/SHA256SUMS" ||
  die 1 "cannot download ${dl}/SHA256SUMS" "every release publishes one; is this a locald release?"

expected=$(awk -v f="$asset" '$2 == f || $2 == "*" f { print $1; exit }' "$tmp/SHA256SUMS")
case $expected in
  [0-9a-f]*) ;;
  *) die 1 "SHA256SUMS has no entry for $asset" "this release may not ship ${os}/${arch}" ;;
esac
actual=$(sha256 "$tmp/$asset")
if [ "$actual" != "$expected" ]; then
  die 1 "checksum mismatch for $asset (expected $expected, got $actual); nothing was installed" \
    "retry; if it persists, the download or the mirror is corrupt"
fi

mkdir "$tmp/x"
tar -xzf "$tmp/$asset" -C "$tmp/x" locald 2>/dev/null ||
  die 1 "$asset does not hold a locald executable" "report this release as broken"
[ -f "$tmp/x/locald" ] || die 1 "$asset does not hold a locald executable"

# --- install: a temporary file in the target directory, then one rename -----------------------
mkdir -p "$dir" 2>/dev/null || die 1 "cannot create $dir" "set LOCALD_INSTALL to a writable directory"
staged="$dir/.locald.install.$$"
cp "$tmp/x/locald" "$staged" 2>/dev/null ||
  die 1 "cannot write to $dir" "set LOCALD_INSTALL to a writable directory, or fix its permissions"
chmod 755 "$staged"
mv -f "$staged" "$dir/locald" || die 1 "cannot move locald into $dir"
staged=""

installed=$("$dir/locald" --version 2>/dev/null | head -n 1 || true)
say "Installed ${installed:-locald} to $dir/locald"

# --- PATH -------------------------------------------------------------------------------------
case ":${PATH:-}:" in
  *":$dir:"*) exit 0 ;;
esac

interactive=0
if [ -t 2 ] && [ -r /dev/tty ] && { : </dev/tty; } 2>/dev/null; then interactive=1; fi

shell_name=$(basename "${SHELL:-sh}")
case $shell_name in
  zsh) profile="${ZDOTDIR:-$HOME}/.zshrc" line="export PATH=\"$dir:\$PATH\"" ;;
  bash)
    if [ "$os" = darwin ]; then profile="$HOME/.bash_profile"; else profile="$HOME/.bashrc"; fi
    line="export PATH=\"$dir:\$PATH\""
    ;;
  fish) profile="$HOME/.config/fish/conf.d/locald.fish" line="fish_add_path \"$dir\"" ;;
  *) profile="$HOME/.profile" line="export PATH=\"$dir:\$PATH\"" ;;
esac

add_to_profile=0
if [ "$modify_path" = 1 ] && [ -n "${HOME:-}" ]; then
  if [ "$yes" = 1 ]; then
    add_to_profile=1
  elif [ "$interactive" = 1 ]; then
    printf '%s is not on your PATH. Add it in %s? [y/N] ' "$dir" "$profile" >&2
    answer=""
    read -r answer </dev/tty || answer=""
    case $answer in [yY] | [yY][eE][sS]) add_to_profile=1 ;; esac
  fi
fi

if [ "$add_to_profile" = 1 ]; then
  if [ -f "$profile" ] && grep -F "$line" "$profile" >/dev/null 2>&1; then
    say "$profile already adds $dir to PATH; open a new shell to use locald"
  else
    mkdir -p "$(dirname "$profile")"
    printf '\n# added by the locald installer\n%s\n' "$line" >>"$profile"
    say "Added $dir to PATH in $profile; open a new shell to use locald"
  fi
elif [ "$interactive" = 1 ]; then
  say ""
  say "$dir is not on your PATH. To use locald, add this to $profile:"
  say "  $line"
fi
