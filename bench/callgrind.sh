#!/bin/sh
# bench/callgrind.sh <libdir> [bench/<name>.lua ...]: instructions and
# system calls per operation, for the contenders that a benchmark lists in
# its 'callgrind' field. Each is run for N and 2N operations, under
# valgrind's callgrind (instructions, "Ir") and under strace -c (system
# calls); (count(2N) - count(N)) / N cancels the cost of starting the
# interpreter, loading modules and creating coroutines.
set -eu
cd "$(dirname "$0")/.."
libdir=${1:?usage: bench/callgrind.sh <libdir> [bench files]}
shift
for tool in valgrind strace; do
  command -v $tool >/dev/null || { echo "$tool is not installed" >&2; exit 1; }
done
[ $# -gt 0 ] || set -- $(ls bench/*.lua | grep -v '/harness\.lua$')
export LUA_CPATH="$libdir/?.so;;"
mkdir -p bench/out
out=bench/out/count.out

# Instructions executed by one run (callgrind's "Collected" total), or
# nothing when the run did not complete (a missing module, an error).
instructions () {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    lua5.4 bench/harness.lua --one "$1" "$2" "$3" >$out 2>&1
  grep -q '^elapsed ' $out &&
    sed -n 's/^==[0-9]*== Collected : *\([0-9]*\).*/\1/p' $out
}

# System calls made by one run (strace's total), or nothing.
syscalls () {
  strace -f -c -o $out.strace \
    lua5.4 bench/harness.lua --one "$1" "$2" "$3" >$out 2>&1
  grep -q '^elapsed ' $out && awk '$NF == "total" { print $4 }' $out.strace
}

# (f(2N) - f(N)) / N printed with format $5, or "-" when a run failed.
perop () {
  a=$($1 "$2" "$3" "$4") || a=""
  b=$($1 "$2" "$3" $(($4 * 2))) || b=""
  if [ -n "$a" ] && [ -n "$b" ]; then
    awk -v a="$a" -v b="$b" -v n="$4" -v f="$5" \
      'BEGIN { printf f, (b - a) / n }'
  else
    echo "-"
  fi
}

echo "| benchmark | contender | instructions per operation | system calls per operation |"
echo "|---|---|---:|---:|"
for f in "$@"; do
  # 'n' and the contender names, one per line (nothing: not measured)
  BENCH="$f" lua5.4 -e 'local b = dofile(os.getenv("BENCH")).callgrind
    if b then print(b.n) for _, c in ipairs(b.contenders) do print(c) end end' \
    >bench/out/count.list
  n=$(head -n 1 bench/out/count.list)
  [ -n "$n" ] || continue
  tail -n +2 bench/out/count.list | while read -r c; do
    ir=$(perop instructions "$f" "$c" "$n" %.0f)
    sc=$(perop syscalls "$f" "$c" "$n" %.4f)
    if [ "$ir" = - ]; then
      why=$(grep -m 1 -v '^==' $out || true)
      echo "| $(basename "$f" .lua) | $c | not measured: $why | |"
    else
      echo "| $(basename "$f" .lua) | $c | $ir | $sc |"
    fi
  done
done
rm -f bench/out/count.list $out $out.strace
