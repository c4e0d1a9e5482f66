#!/bin/sh
# test/fuzz/run.sh target...: what `make check-fuzz` runs, after building
# build-fuzz/fuzz_<target> for each target named. For each target:
#   1. every input of test/fuzz/regress/<target>/ once (crashes found
#      before, which must stay fixed); with COUTIL_KNOWN_BUGS=1, also the
#      inputs of open bugs in test/fuzz/known/<target>/, reported only;
#   2. the fuzzer for FUZZ_SECONDS seconds (default 10) on a copy of
#      test/fuzz/corpus/<target>/ in a temporary directory, so the inputs
#      it finds never land in the repository, with the dictionary
#      test/fuzz/<target>.dict when there is one.
# The fuzzer's own output goes to build-fuzz/logs/<target>.log; this
# prints its closing statistics, and on a failure the end of the log and
# where the crashing input was kept (build-fuzz/artifacts/<target>/).
# Fails when any target fails; every target runs either way.
set -eu
cd "$(dirname "$0")/../.."

secs=${FUZZ_SECONDS:-10}
build=build-fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/logs"

# the sanitizers report and stop; a leak is a failure too
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

failed=""
for t in "$@"; do
  exe=$build/fuzz_$t
  log=$build/logs/$t.log
  : >"$log"
  start=$(date +%s)
  ok=1
  regress=$(ls test/fuzz/regress/"$t"/* 2>/dev/null || true)
  if [ -n "$regress" ]; then
    # shellcheck disable=SC2086
    if ! "$exe" $regress >>"$log" 2>&1; then ok=0; fi
    echo "fuzz $t: $(echo "$regress" | wc -w) regression inputs," \
         "$([ $ok = 1 ] && echo passed || echo FAILED)"
  fi
  # inputs of open bugs (test/fuzz/known/<target>/): only shown, with
  # COUTIL_KNOWN_BUGS=1 (which also lets the targets reach those bugs)
  known=$(ls test/fuzz/known/"$t"/* 2>/dev/null || true)
  if [ -n "$known" ] && [ "${COUTIL_KNOWN_BUGS:-}" = 1 ]; then
    for k in $known; do
      if "$exe" "$k" >>"$log" 2>&1; then r="passes: fixed?"
      else r="still fails"; fi
      echo "fuzz $t: open bug $k $r"
    done
  fi
  if [ $ok = 1 ]; then
    mkdir -p "$work/$t" "$build/artifacts/$t"
    cp test/fuzz/corpus/"$t"/* "$work/$t/" 2>/dev/null || true
    dict=""
    [ -f test/fuzz/"$t".dict ] && dict=-dict=test/fuzz/$t.dict
    # shellcheck disable=SC2086
    if ! "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
         -max_len=4096 -print_final_stats=1 $dict \
         -artifact_prefix="$build/artifacts/$t/" "$work/$t" \
         >>"$log" 2>&1; then
      ok=0
    fi
  fi
  end=$(date +%s)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.*DONE *cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 edges, \2 features, \3 inputs/p' "$log" | tail -1)
  if [ $ok = 1 ]; then
    echo "fuzz $t: passed, ${runs:-0} runs in $((end - start)) s" \
         "(${rate:-0}/s), ${cov:-no coverage line}"
  else
    echo "fuzz $t: FAILED after $((end - start)) s; the end of $log:"
    tail -n 60 "$log" | grep -v '^#[0-9]'
    echo "fuzz $t: the input is in $build/artifacts/$t/ (or above)"
    failed="$failed $t"
  fi
done

if [ -n "$failed" ]; then
  echo "fuzz: failed:$failed"
  exit 1
fi
echo "fuzz: all passed ($*)"
