#!/usr/bin/env bash
# Makes the Moddable SDK's Linux tools available and prints the two lines to export them:
#
#   eval "$(scripts/moddable-sdk.sh)"      # then: npm test runs test:moddable
#
# - A user's own SDK wins: with $MODDABLE set (and its tools built) it only prints the exports.
# - Otherwise it builds the SDK source archive ../shared/vendor/moddable-sdk-*.tar.xz (next to the
#   repository) into a cache outside the repository, ${XSDOT_CACHE:-$HOME/.cache/xsdot}/<archive name>/moddable,
#   and writes <archive name>/.complete (the archive's SHA-256) after a successful build. A complete build
#   is reused; a different archive (another name, or a changed checksum) is built afresh. flock keeps two runs from building
#   the same cache at once (the second waits, then reuses the first's build).
# - Installs the Debian packages the build and the tests need when missing (as root, through apt-get):
#   the SDK's build dependencies, xvfb and xauth (mcsim runs under xvfb-run), iproute2 (`ip` brings up
#   loopback in the tests' private network namespace).
#
# Progress goes to stderr; stdout carries only the export lines. Exits non-zero, saying why, when
# there is no SDK to use or the build fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

say() { printf 'moddable-sdk: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

print_exports() {
  printf 'export MODDABLE=%q\n' "$1"
  printf 'export PATH=%q:"$PATH"\n' "$1/build/bin/lin/release"
}

install_packages() {
  local need=() pkg
  for pkg in build-essential libgtk-3-dev libncurses-dev flex bison gperf xvfb xauth iproute2 xz-utils util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${need[*]} (install them: sudo apt-get install ${need[*]})"
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

if [ -n "${MODDABLE:-}" ]; then
  [ -x "$MODDABLE/build/bin/lin/release/mcconfig" ] ||
    die "MODDABLE=$MODDABLE, but its tools are not built ($MODDABLE/build/bin/lin/release/mcconfig is missing)"
  say "using your SDK, MODDABLE=$MODDABLE"
  install_packages
  print_exports "$MODDABLE"
  exit 0
fi

# ../shared next to the repository; for a git worktree, next to its main checkout.
main_checkout="$(dirname "$(git -C "$ROOT" rev-parse --path-format=absolute --git-common-dir 2>/dev/null || echo "$ROOT/.git")")"
shopt -s nullglob
archives=("$ROOT"/../shared/vendor/moddable-sdk-*.tar.xz)
[ ${#archives[@]} -gt 0 ] || archives=("$main_checkout"/../shared/vendor/moddable-sdk-*.tar.xz)
shopt -u nullglob
[ ${#archives[@]} -gt 0 ] || die "no \$MODDABLE and no SDK archive ../shared/vendor/moddable-sdk-*.tar.xz next to the repository"
[ ${#archives[@]} -eq 1 ] || die "several SDK archives in ../shared/vendor (keep one): ${archives[*]##*/}"
archive="$(cd "$(dirname "${archives[0]}")" && pwd)/$(basename "${archives[0]}")"
name="$(basename "$archive" .tar.xz)"

install_packages

cache="${XSDOT_CACHE:-$HOME/.cache/xsdot}"
dir="$cache/$name"
sdk="$dir/moddable"
stamp="$dir/.complete"
mkdir -p "$cache"
sum="$(sha256sum "$archive" | cut -d' ' -f1)"

# Complete: the stamp exists and the tools are there. A stamp holding a checksum must hold this archive's;
# one without (made by hand after building as vendor/README.md says) is trusted by the archive's name.
complete() {
  [ -f "$stamp" ] && [ -x "$sdk/build/bin/lin/release/mcconfig" ] && [ -x "$sdk/build/bin/lin/release/mcsim" ] || return 1
  local recorded
  recorded="$(head -c 200 "$stamp")"
  [[ ! "$recorded" =~ ^[0-9a-f]{64} ]] || [ "${recorded:0:64}" = "$sum" ]
}

if ! complete; then
  exec 9>"$dir.lock"
  flock 9 || die "cannot lock $dir.lock"
  if ! complete; then  # another run may have built it while this one waited
    say "building $name into $dir (about 2-4 minutes)"
    started=$SECONDS
    rm -rf "$dir"
    mkdir -p "$dir"
    tar -xJf "$archive" -C "$dir"
    [ -d "$sdk/build/makefiles/lin" ] || die "$archive has no moddable/build/makefiles/lin"
    # PATH first: the xsbug and mcsim steps call xsc from PATH.
    log="$dir/build.log"
    if ! MODDABLE="$sdk" PATH="$sdk/build/bin/lin/release:$PATH" make -C "$sdk/build/makefiles/lin" >"$log" 2>&1; then
      tail -n 40 "$log" >&2
      die "the SDK build failed (whole log: $log)"
    fi
    printf '%s\n' "$sum" >"$stamp"
    say "built in $((SECONDS - started)) s"
  fi
  flock -u 9
fi
say "using $sdk"
print_exports "$sdk"
