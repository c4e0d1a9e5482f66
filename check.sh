#!/bin/sh
# Runs the whole coutil test suite on a fresh Debian 12 machine: installs
# the missing Debian packages (as root), builds, and runs every test.
set -e
cd "$(dirname "$0")"
sh .ci/deps.sh
exec make check
