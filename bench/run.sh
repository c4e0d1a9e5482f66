#!/bin/sh
# bench/run.sh <libdir> [bench/<name>.lua ...] (make bench): runs every
# benchmark (all bench/*.lua but the harness, or the files named) with
# bench/harness.lua, BENCH_REPS runs of each contender (default 5), and
# prints one Markdown table per benchmark, after a line about the machine.
# A copy of the output goes to bench/out/results.md. A benchmark file that
# cannot run at all is reported, the others still run, and the exit status
# is then 1; a missing or failing contender is only reported in its table.
set -eu
cd "$(dirname "$0")/.."
libdir=${1:?usage: bench/run.sh <libdir> [bench files]}
shift
[ -f "$libdir/coutil.so" ] || { echo "no $libdir/coutil.so: run make" >&2; exit 1; }
[ $# -gt 0 ] || set -- $(ls bench/*.lua | grep -v '/harness\.lua$')
mkdir -p bench/out
failed=bench/out/failed
rm -f $failed
{
  model=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
  echo "machine: $model, $(nproc) cores, $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  for f in "$@"; do
    lua5.4 bench/harness.lua "$libdir" "$f" "${BENCH_REPS:-5}" 2>&1 ||
      { echo "$f: the benchmark itself failed"; echo "$f" >>$failed; echo; }
  done
} | tee bench/out/results.md
# one broken benchmark file does not hide the others, but fails the run
[ ! -s $failed ] || { rm -f $failed; exit 1; }
