#!/bin/sh
# Runs the coutil demo on a fresh Debian 12 machine: installs the missing
# Debian packages (as root), builds, and runs examples/demo.lua.
set -e
cd "$(dirname "$0")"
sh .ci/deps.sh
exec make demo
