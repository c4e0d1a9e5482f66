#!/bin/sh
# test/conformance/run.sh [runner options]: runs the files listed in
# test/conformance/files of the original coutil's test suite against
# build/lib, through the suite's runner (../shared/conformance/run -c).
# SUITE_TTY=on runs them on a pseudo-terminal. Prints the runner's lines
# and its closing "N passed, N failed"; the exit status is the runner's.
set -eu
cd "$(dirname "$0")/../.."
runner=../shared/conformance/run
[ -x "$runner" ] || { echo "no conformance runner at $runner" >&2; exit 2; }
files=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' test/conformance/files)
# shellcheck disable=SC2086
exec "$runner" -c "$@" $files </dev/null
