#!/bin/sh
# .ci/deps.sh: installs the Debian packages that building, testing and
# benchmarking coutil need, and only those that are missing. Quiet when
# everything is there. As root it installs them non-interactively (with
# one 'apt-get update' first); otherwise it names them and fails.
set -eu

# build: compiler, make, pkg-config, Lua 5.4 and its headers, libuv
# tests: luarocks (test/rockspec.lua), dpkg-dev (dpkg-source, for the
#        torture interpreter built from Debian's lua5.4 source)
# conformance: the suite's runner needs unshare (util-linux), script
#        (bsdutils), ip (iproute2) and timeout (coreutils)
# benchmarks: luv and cqueues for Lua 5.4, valgrind, strace
# fuzzing (make check-fuzz): clang-14; libclang-rt-14-dev, which holds
#        the runtimes -fsanitize=fuzzer,address,undefined links (only a
#        recommendation of clang-14, and recommendations are not
#        installed here); libfuzzer-14-dev, libFuzzer as a library
PACKAGES="build-essential pkg-config lua5.4 liblua5.4-dev libuv1-dev
luarocks dpkg-dev util-linux bsdutils iproute2 coreutils
lua-luv lua-cqueues valgrind strace
clang-14 libclang-rt-14-dev libfuzzer-14-dev"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *" installed") ;;
    *) missing="$missing $p" ;;
  esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "coutil needs these Debian packages:$missing" >&2
  echo "install them as root: apt-get install$missing" >&2
  exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
retry="$(dirname "$0")/retry"   # two more tries if the mirror hiccups
sh "$retry" apt-get update -qq
# shellcheck disable=SC2086
sh "$retry" apt-get install -y -qq --no-install-recommends $missing \
  </dev/null >/dev/null
echo "installed:$missing"
