#!/bin/sh
# test/torture.sh (make check-torture): runs the test suite under a Lua
# 5.4 interpreter built from Debian's own lua5.4 source with API checks
# (LUA_USE_APICHECK), internal asserts (LUAI_ASSERT), a full garbage
# collection at every allocation check (HARDMEMTESTS), and ASan+UBSan;
# coutil is built with ASan against that source's headers.
#
# The source is fetched once with 'apt-get source lua5.4' into
# build-torture/ (never committed); a deb-src entry for the configured
# Debian mirror is added when apt has none (root only).
#
# HARDMEMTESTS makes allocation-heavy Lua code tens of times slower, but
# the suite's heaps are small: measured, the whole suite takes about a
# minute (docs/building.md), so it all runs by default. Should it grow
# past the budget, COUTIL_TORTURE=core runs only the core tests (CORE).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOP=$ROOT/build-torture
CORE="loop time await event queued mutex promise spawn memory"
mkdir -p "$TOP"

say () { echo "torture: $*"; }

# --- the lua5.4 source package -------------------------------------------

# Adds deb-src twins of the apt entries for this Debian release, in a
# file of our own, written in the format the entry came in.
add_deb_src () {
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || { say "unknown Debian release"; exit 1; }
  out=/etc/apt/sources.list.d/coutil-deb-src
  : >"$out.sources.tmp"
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    case "$f" in "$out.sources") continue ;; esac
    # deb822: one stanza per paragraph; copy those of the release's own
    # suite with the Types line changed.
    awk -v suite="$codename" 'BEGIN { RS = ""; ORS = "\n\n" }
      $0 ~ /(^|\n)Types:[^\n]*(^|[ \t])deb([ \t]|\n|$)/ &&
      $0 ~ ("(^|\n)Suites:[^\n]*[ \t]" suite "([ \t]|\n|$)") &&
      $0 !~ /(^|\n)Enabled:[ \t]*no/ {
        sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, "")
        print }' "$f" >>"$out.sources.tmp"
  done
  if [ -s "$out.sources.tmp" ]; then
    mv "$out.sources.tmp" "$out.sources"
  else
    rm -f "$out.sources.tmp"
    # one-line format: 'deb [options] uri suite components...'
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v suite="$codename" '$1 == "deb" {
        i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++
        if ($2 ~ /^\[/) i++
        if ($(i + 1) == suite) { $1 = "deb-src"; print } }' >"$out.list"
    [ -s "$out.list" ] || { rm -f "$out.list"
      say "no apt entry for '$codename' to derive a deb-src entry from"
      exit 1; }
  fi
  say "added deb-src entries in $out.*; running apt-get update"
  sh "$ROOT/.ci/retry" apt-get update -qq
}

fetch_source () {
  src=$(ls -d "$TOP"/lua5.4-*/src 2>/dev/null | head -n 1 || true)
  if [ -n "$src" ] && [ -f "$src/lapi.c" ]; then return 0; fi
  if ! apt-cache showsrc lua5.4 2>/dev/null | grep -q '^Package: lua5.4'
  then
    if [ "$(id -u)" -ne 0 ]; then
      say "apt has no deb-src entry; add one (as root) and retry"
      exit 1
    fi
    add_deb_src
  fi
  command -v dpkg-source >/dev/null || sh .ci/deps.sh
  say "fetching Debian's lua5.4 source"
  (cd "$TOP" && sh "$ROOT/.ci/retry" apt-get source -qq lua5.4 </dev/null >apt.log 2>&1) || {
    cat "$TOP/apt.log"; say "'apt-get source lua5.4' failed"; exit 1; }
}

fetch_source

# --- the checked interpreter ---------------------------------------------

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CHECKS="-DLUA_USE_APICHECK -DLUAI_ASSERT -DHARDMEMTESTS"
SRC=$(ls -d "$TOP"/lua5.4-*/src | head -n 1)
LUA=$TOP/bin/lua5.4

build_lua () {
  # Debian's luaconf.h includes a header its build generates.
  mkdir -p "$TOP/include" "$TOP/bin" "$TOP/obj"
  arch=$(gcc -print-multiarch)
  printf '#define DEB_HOST_MULTIARCH "%s"\n' "$arch" \
    >"$TOP/include/lua5.4-deb-multiarch.h"
  say "building the checked interpreter from $(basename "$(dirname "$SRC")")"
  for c in "$SRC"/*.c; do
    case "$c" in */luac.c) continue ;; esac
    echo "$c"
  done | xargs -P "$(nproc)" -I{} sh -c 'f={}; o="$0/$(basename "$f" .c).o"
    exec gcc -std=gnu99 -O1 -g -fno-omit-frame-pointer $1 $2 \
      -DLUA_COMPAT_5_3 -DLUA_USE_LINUX -I"$3" -c "$f" -o "$o"' \
      "$TOP/obj" "$SAN" "$CHECKS" "$TOP/include"
  # -Wl,-E: C modules find the Lua API in the interpreter itself.
  gcc $SAN -Wl,-E -o "$LUA" "$TOP"/obj/*.o -lm -ldl
}

[ -x "$LUA" ] && [ "$LUA" -nt "$0" ] || build_lua

# coutil with ASan, against the headers of that source (PKGS without lua5.4
# keeps Debian's headers out of the search path).
say "building coutil with ASan+UBSan"
make -s BUILD="$TOP/coutil" PKGS=libuv \
  OPT="-O1 -g -fno-omit-frame-pointer" SANFLAGS="$SAN" \
  CFLAGS="-I$SRC -I$TOP/include $CHECKS" all

# --- the run -------------------------------------------------------------

set --
if [ "${COUTIL_TORTURE:-all}" = core ]; then
  for t in $CORE; do
    if [ -f "test/$t.lua" ]; then set -- "$@" "test/$t.lua"; fi
  done
  say "running the core tests: $*"
else
  # examples.lua is left out: the examples generate and check their data
  # in Lua, byte by byte, which a collection at every allocation makes
  # minutes long; the library paths they take are those of the socket,
  # file, process and thread tests, which run here
  for t in test/*.lua test/regress/*.lua; do
    case $t in
      test/helpers.lua|test/run.lua|test/gcstress.lua|test/examples.lua|\
      test/allocfail.lua|test/faults.lua) ;;
      *) if ! head -n 1 "$t" | grep -q '^-- allocfail scenario'; then
           set -- "$@" "$t"
         fi ;;
    esac
  done
  say "running the suite but test/examples.lua (COUTIL_TORTURE=core: only the core tests)"
fi
# two files at a time (each is one slow interpreter), and a quarter of the
# random-argument rounds (test/fuzz.lua)
COUTIL_LUA=$LUA COUTIL_SANITIZER=asan \
  COUTIL_TEST_TIMEOUT="${COUTIL_TEST_TIMEOUT:-600}" \
  COUTIL_JOBS="${COUTIL_JOBS:-2}" COUTIL_FUZZ_SCALE="${COUTIL_FUZZ_SCALE:-1}" \
  lua5.4 test/run.lua "$TOP/coutil/lib" "$@"
