#!/bin/sh
# bench/callgrind.sh <libdir> [bench/<name>.lua ...]: instructions per
# operation under valgrind's callgrind, for the contenders that a
# benchmark lists in its 'callgrind' field (coutil and its floor). Each is
# run for N and 2N operations; (Ir(2N) - Ir(N)) / N cancels the cost of
# starting the interpreter, loading modules and creating coroutines.
set -eu
cd "$(dirname "$0")/.."
libdir=${1:?usage: bench/callgrind.sh <libdir> [bench files]}
shift
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
[ $# -gt 0 ] || set -- $(ls bench/*.lua | grep -v '/harness\.lua$')
export LUA_CPATH="$libdir/?.so;;"
mkdir -p bench/out

# Instructions executed by one run (callgrind's "Collected" total), or
# nothing when the run did not complete (a missing module, an error).
irs () {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    lua5.4 bench/harness.lua --one "$1" "$2" "$3" >bench/out/callgrind.out 2>&1
  grep -q '^elapsed ' bench/out/callgrind.out &&
    sed -n 's/^==[0-9]*== Collected : *\([0-9]*\).*/\1/p' \
      bench/out/callgrind.out
}

echo "| benchmark | contender | Ir at N | Ir at 2N | Ir per operation |"
echo "|---|---|---:|---:|---:|"
for f in "$@"; do
  # 'n' and the contender names, one per line (nothing: not measured)
  BENCH="$f" lua5.4 -e 'local b = dofile(os.getenv("BENCH")).callgrind
    if b then print(b.n) for _, c in ipairs(b.contenders) do print(c) end end' \
    >bench/out/callgrind.list
  n=$(head -n 1 bench/out/callgrind.list)
  [ -n "$n" ] || continue
  tail -n +2 bench/out/callgrind.list | while read -r c; do
    a=$(irs "$f" "$c" "$n") || a=""
    b=$(irs "$f" "$c" $((2 * n))) || b=""
    if [ -z "$a" ] || [ -z "$b" ]; then
      why=$(grep -m 1 -v '^==' bench/out/callgrind.out || true)
      echo "| $(basename "$f" .lua) | $c | not measured: $why | | |"
    else
      echo "| $(basename "$f" .lua) | $c | $a | $b | $(( (b - a) / n )) |"
    fi
  done
done
rm -f bench/out/callgrind.list bench/out/callgrind.out
